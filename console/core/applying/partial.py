"""Restoring a selection of files: only the frames that hold them are read.

The catalog says where each selected member lies in the uncompressed tar stream (offset and
length, pax headers included). From a seekable archive only the frames holding those bytes are
read, contiguous runs of frames together; from a stream that cannot seek (a tape, a pipe) one
forward pass decompresses only those frames and steps over the rest. The selected members' bytes,
followed by the two zero blocks that end an archive, go to GNU tar -x, which restores owners,
modes, times, xattrs, ACLs, sparse files and links exactly as in a full restore; on the way
every file's content is hashed and checked against the catalog's BLAKE3.

Two things a plain cut of the stream would get wrong are handled here:

- a selected hard link whose target is not selected: the target's bytes are sent under the
  link's name (see paxedit), so the file comes back with its content; later links to the same
  target point at that name;
- directories above the selection that the target lacks and the stream does not carry: they
  are created before tar runs and given their archived owner, mode and time afterwards
  (xattrs and ACLs of such unselected directories are not restored).

Safety: member names are normalized by the scanner before tar sees them, tar runs without -P
(no absolute names, no ".."), and a restore is refused when a directory on the way to a
selected entry is a symlink in the target, which tar would follow out of the root.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import os
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Iterable, Iterator

from ..backupset.archive import READ_SIZE, Throttle, single_piece, tar_extractor
from ..backupset.browse import resolve
from ..backupset.catalog import Catalog
from ..backupset.entries import Entry
from ..backupset.inodeflags import LOCKING, clear_locking, read_flags, write_flags
from ..backupset.manifest import BackupSet
from ..backupset.paxedit import HeaderRewriter
from ..backupset.seekable import ForwardReader, Frame, SeekableReader
from ..backupset.selection import Selection, ancestors
from ..backupset.tarscan import BLOCK, TarScanner, parent_and_name
from ..cancel import CancelToken, stop_if_cancelled
from ..errors import RestoreError, UsageError
from ..events import Listener, Message, Progress, ignore
from ..layout import Filesystem
from ..system import require
from ..units import entries_and_data
from .flags import restore_flags
from .ondisk import TreeOfFs

TOOLS = ("tar",)  # run here; the rescue image carries them

EXISTING_POLICIES = ("overwrite", "skip", "newer")
_POLICY_OPTIONS = {"overwrite": [], "skip": ["--skip-old-files"], "newer": ["--keep-newer-files"]}
END_OF_ARCHIVE = bytes(2 * BLOCK)
MAX_NAMED = 10
CANCELLED = "Restoring the files was cancelled: the files restored so far stay where they are."


def tar_name(path: bytes) -> bytes:
    """The member name GNU tar gives a catalog path ("./etc/passwd")."""
    return b"." + path if path != b"/" else b"./"


@dataclass
class Item:
    """One member to send to tar: where its bytes are, and the name it is restored under."""

    offset: int
    length: int
    path: bytes
    kind: str
    blake3: bytes | None = None
    mtime_ns: int = 0
    changes: dict[bytes, bytes] | None = None  # pax records to rewrite (see paxedit)


@dataclass
class SelectionResult:
    """What restoring a selection did."""

    entries: int = 0  # restored entries: files, directories, links, devices
    bytes: int = 0  # file data: the sizes of the regular files restored
    skipped: list[bytes] = field(default_factory=list)  # existing entries left alone (policy)
    mismatched: list[bytes] = field(default_factory=list)  # content differs from the catalog
    frames_read: int = 0
    frames_total: int = 0
    seconds: float = 0.0
    destinations: list[str] = field(default_factory=list)

    def add(self, other: "SelectionResult") -> None:
        self.entries += other.entries
        self.bytes += other.bytes
        self.skipped += other.skipped
        self.mismatched += other.mismatched
        self.frames_read += other.frames_read
        self.frames_total += other.frames_total
        self.destinations += other.destinations


@dataclass
class Plan:
    """What a selection needs from one archive, computed from the catalog alone."""

    entries: int = 0
    bytes: int = 0
    # (offset, end) of the items' bytes, adjacent items merged: a whole subtree is one range
    ranges: list[list[int]] = field(default_factory=list)
    carriers: dict[bytes, bytes] = field(default_factory=dict)  # link target -> name it gets
    carrier_entries: list[Entry] = field(default_factory=list)
    relinks: dict[bytes, bytes] = field(default_factory=dict)  # hard link -> new link target
    parents: set[bytes] = field(default_factory=set)  # directories the items go into

    def add(self, start: int, end: int) -> None:
        if self.ranges and self.ranges[-1][0] <= start <= self.ranges[-1][1]:
            self.ranges[-1][1] = max(self.ranges[-1][1], end)
        else:
            self.ranges.append([start, end])

    def frame_runs(self, reader: SeekableReader) -> list[tuple[int, int]]:
        """Contiguous runs [first, last] of the frames holding the items' bytes."""
        runs: list[list[int]] = []
        for start, end in sorted(self.ranges):
            first, last = reader.frame_at(start), reader.frame_at(max(start, end - 1))
            if runs and first <= runs[-1][1] + 1:
                runs[-1][1] = max(runs[-1][1], last)
            else:
                runs.append([first, last])
        return [(a, b) for a, b in runs]


def _merged(iterables: list[Iterator], key) -> Iterator:
    return heapq.merge(*iterables, key=key) if len(iterables) > 1 else iter(
        iterables[0] if iterables else ())


def plan_selection(catalog: Catalog, selection: Selection) -> Plan:
    """The first pass over the selected members: where they are, which hard links need their
    target's content, which directories they go into."""
    plan = Plan()
    conditions = selection.conditions()
    spans = _merged([catalog.spans(selection.fs, sql, params) for sql, params in conditions],
                    key=lambda s: s.offset)
    for span in spans:
        plan.entries += 1
        plan.bytes += span.length
        plan.add(span.offset, span.offset + span.length)
        plan.parents.add(parent_and_name(span.path)[0])
        if span.kind == "hardlink" and not selection.is_selected(span.link):
            carrier = plan.carriers.get(span.link)
            if carrier is None:
                plan.carriers[span.link] = span.path
            else:
                plan.relinks[span.path] = carrier
    for target, carrier in plan.carriers.items():
        entry = catalog.lookup(selection.fs, target)
        if entry is None:
            raise RestoreError(f"The hard link {os.fsdecode(carrier)} points at "
                               f"{os.fsdecode(target)}, which the catalog does not hold.",
                               "The set is damaged; restore that file from another copy.")
        plan.carrier_entries.append(entry)
        plan.add(entry.offset, entry.offset + entry.length)
        plan.bytes += entry.length
    plan.parents.discard(b"")
    return plan


def _items(catalog: Catalog, selection: Selection, plan: Plan) -> Iterator[Item]:
    """The second pass: every member to send, in stream order, with its rewrites."""
    carriers = [Item(e.offset, e.length, plan.carriers[e.path], "file", e.blake3, e.mtime_ns,
                     {b"path": tar_name(plan.carriers[e.path])})
                for e in sorted(plan.carrier_entries, key=lambda e: e.offset)]
    carrying = set(plan.carriers.values())
    selected = _merged([catalog.entries_where(selection.fs, sql, params)
                        for sql, params in selection.conditions()], key=lambda e: e.offset)
    for item in heapq.merge(carriers, _selected_items(selected, carrying, plan.relinks),
                            key=lambda i: i.offset):
        yield item


def _selected_items(entries: Iterable[Entry], carrying: set[bytes],
                    relinks: dict[bytes, bytes]) -> Iterator[Item]:
    for e in entries:
        if e.path in carrying:
            continue  # sent earlier, with its target's content
        changes = None
        if e.path in relinks:
            changes = {b"linkpath": tar_name(relinks[e.path])}
        yield Item(e.offset, e.length, e.path, e.kind, e.blake3, e.mtime_ns, changes)


class _Cutter:
    """Cuts the items' bytes out of frames that arrive in stream order."""

    def __init__(self, items: Iterator[Item]):
        self._items = items
        self.current: Item | None = next(items, None)
        self._begun = False  # some bytes of the current item were cut already

    def wants(self, d_offset: int, d_size: int) -> bool:
        """Whether the frame at d_offset holds bytes of an item still to come."""
        return self.current is not None and self.current.offset < d_offset + d_size

    def cut(self, frames: Iterable[tuple[Frame, bytes | None]]) -> Iterator[tuple[Item, memoryview]]:
        for frame, data in frames:
            if self.current is None:
                return  # everything is out: a tape need not be read to its end
            if data is None:
                continue
            start, end = frame.d_offset, frame.d_offset + len(data)
            view = memoryview(data)
            while self.current is not None:
                item = self.current
                item_end = item.offset + item.length
                if item.offset >= end:
                    break
                if item.offset < start and not self._begun:
                    raise RestoreError(f"A frame holding {os.fsdecode(item.path)} was not read.",
                                       "This is a bug; the log has the details.")
                lo, hi = max(item.offset, start), min(item_end, end)
                if lo < hi:
                    self._begun = True
                    yield item, view[lo - start : hi - start]
                if item_end > end:
                    break
                self.current = next(self._items, None)
                self._begun = False
        if self.current is not None:
            raise RestoreError(f"The archive ended before {os.fsdecode(self.current.path)}.",
                               "The archive is truncated; use another copy of the set.")


def _check_not_symlink(path: bytes, root: bytes) -> None:
    if os.path.islink(path):
        shown = os.fsdecode(path)
        raise RestoreError(f"{shown} is a symbolic link in the target, where the set has a "
                           "directory: extracting through it could write outside "
                           f"{os.fsdecode(root)}. Nothing was written.",
                           "Remove or rename the link, or restore into an empty directory.")


def _prepare_parents(dest: bytes, plan: Plan, stream_dirs: set[bytes],
                     catalog: Catalog, fs_id: int) -> list[tuple[bytes, Entry | None]]:
    """Checks every directory on the way to the items; creates the missing ones the stream does
    not carry (they get their archived metadata after tar). Returns those created."""
    seen: set[bytes] = set()
    missing: list[bytes] = []
    for parent in plan.parents:
        for path in itertools.chain((parent,), ancestors(parent)):
            if path in seen:
                break
            seen.add(path)
            where = dest + (path if path != b"/" else b"")
            if path != b"/":  # dest itself is the operator's choice
                _check_not_symlink(where, dest)
            if path not in stream_dirs and not os.path.lexists(where):
                missing.append(path)
    created = []
    for path in sorted(missing, key=lambda p: p.count(b"/") if p != b"/" else 0):
        where = dest + (path if path != b"/" else b"")
        os.makedirs(where, mode=0o700, exist_ok=True)
        created.append((where, catalog.lookup(fs_id, path)))
    return created


def apply_directory_metadata(created: list[tuple[bytes, Entry | None]]) -> None:
    """Owner, mode and mtime from the catalog, deepest first (a child's creation moves its
    parent's mtime)."""
    for where, entry in sorted(created, key=lambda c: -c[0].count(b"/")):
        if entry is None or entry.kind != "dir":
            os.chmod(where, 0o755)
            continue
        os.chown(where, entry.uid, entry.gid)
        os.chmod(where, entry.mode)
        os.utime(where, ns=(entry.mtime_ns, entry.mtime_ns))


def _already_there(where: bytes, item: Item, existing: str) -> bool:
    """Whether tar will leave an existing entry alone under the policy (files only)."""
    if existing == "overwrite" or item.kind == "dir":
        return False
    try:
        st = os.lstat(where)
    except FileNotFoundError:
        return False
    if existing == "skip":
        return True
    return st.st_mtime_ns > item.mtime_ns


def extract_selection(catalog: Catalog, selection: Selection, dest: str, *,
                      label: str, archive_name: str,
                      reader: SeekableReader | None = None, stream: BinaryIO | None = None,
                      existing: str = "overwrite", listener: Listener = ignore,
                      cancel: CancelToken | None = None) -> SelectionResult:
    """Restores the selection of one filesystem into dest (the directory standing for its root).

    Give a SeekableReader (only the frames holding selected members are read) or a stream that
    cannot seek (one forward pass, decompressing only those frames). A set `cancel` stops it
    between two members (tar is killed; the files restored so far stay).
    """
    _check_policy(existing)
    if (reader is None) == (stream is None):
        raise ValueError("give either a reader or a stream")
    started = time.monotonic()
    require("tar")  # before the first directory is made
    plan = plan_selection(catalog, selection)
    result = SelectionResult(destinations=[dest])
    if not plan.entries:
        return result
    dest_b = os.fsencode(dest)
    os.makedirs(dest, exist_ok=True)
    stream_dirs = _selected_dirs(catalog, selection)
    created = _prepare_parents(dest_b, plan, stream_dirs, catalog, selection.fs)

    cutter = _Cutter(_items(catalog, selection, plan))
    if reader is not None:
        runs = plan.frame_runs(reader)
        frames = itertools.chain.from_iterable(reader.iter_frames(a, b + 1) for a, b in runs)
        result.frames_total = len(reader.frames)
    else:
        forward = ForwardReader(stream, archive_name)
        frames = forward.frames(cutter.wants)

    progress = Progress(f"Restoring the selection of {label}", bytes_total=plan.bytes,
                        files_total=plan.entries)
    tick = Throttle(listener, progress)
    scanner = TarScanner(archive=archive_name)
    expected: collections.deque[Item] = collections.deque()
    checked = 0
    buffer = bytearray()
    current: Item | None = None
    rewriter: HeaderRewriter | None = None

    def flush(feeder) -> bool:
        """Scans and sends what is buffered; False once tar has stopped reading."""
        nonlocal checked
        # Scan before tar sees the bytes: an unsafe name stops us before it is written.
        scanner.feed(buffer)
        if not feeder.put(bytes(buffer)):
            return False
        buffer.clear()
        for member in scanner.members[checked:]:
            item = expected.popleft()
            if member.path != item.path:
                raise RestoreError(f"The archive holds {os.fsdecode(member.path)} where the "
                                   f"catalog has {os.fsdecode(item.path)}.",
                                   "The catalog does not belong to this archive; use another "
                                   "copy of the set.")
            if member.blake3 is not None and member.blake3 != item.blake3:
                result.mismatched.append(item.path)
        result.bytes += sum(m.size for m in scanner.members[checked:] if m.kind == "file")
        checked = len(scanner.members)
        progress.bytes_done = scanner.pos
        progress.files_done = checked
        progress.current = os.fsdecode(scanner.members[-1].path) if scanner.members else ""
        tick()
        return True

    parents = _LockedParents()
    try:
        with tar_extractor(dest, f"Extracting the selection of {label}",
                           _POLICY_OPTIONS[existing]) as feeder:
            for item, chunk in cutter.cut(frames):
                if item is not current:
                    stop_if_cancelled(cancel, CANCELLED)
                    current = item
                    expected.append(item)
                    rewriter = HeaderRewriter(item.changes, os.fsdecode(item.path)) \
                        if item.changes else None
                    where = dest_b + (item.path if item.path != b"/" else b"")
                    if _already_there(where, item, existing):
                        result.skipped.append(item.path)
                    else:
                        # Before tar sees its bytes: an immutable or append-only file cannot be
                        # replaced, nor an entry made in such a directory. The set's flags come
                        # back after the extraction.
                        clear_locking(where)
                    if item.path != b"/":  # the root's parent is outside dest: never touched
                        parents.unlock(os.path.dirname(where))
                buffer += rewriter.feed(chunk) if rewriter is not None else chunk
                if len(buffer) >= READ_SIZE and not flush(feeder):
                    break  # tar stopped reading: its exit status says why
            else:
                buffer += END_OF_ARCHIVE
                if flush(feeder):
                    scanner.finish()
    finally:
        parents.relock()
    if expected:
        raise RestoreError(f"The archive of {label} ended before "
                           f"{os.fsdecode(expected[0].path)}.",
                           "The archive is truncated; use another copy of the set.")
    apply_directory_metadata(created)
    _restore_selection_flags(catalog, selection, dest, label, listener, set(result.skipped))
    tick(force=True)
    result.entries = checked
    result.frames_read = reader.frames_read if reader is not None else forward.frames_decompressed
    result.seconds = time.monotonic() - started
    if reader is None:
        result.frames_total = 0
    return result


class _LockedParents:
    """Directories above the selection that are immutable or append-only: nothing can be made
    in them, so their flags are taken off for the extraction and put back after it."""

    def __init__(self) -> None:
        self._seen: set[bytes] = set()
        self._unlocked: list[tuple[bytes, int]] = []

    def unlock(self, directory: bytes) -> None:
        if directory in self._seen:
            return
        self._seen.add(directory)
        try:
            flags = read_flags(directory)
        except OSError:
            return  # not there yet: made by tar, without flags
        if flags & LOCKING:
            write_flags(directory, flags & ~LOCKING)
            self._unlocked.append((directory, flags))

    def relock(self) -> None:
        for directory, flags in reversed(self._unlocked):
            write_flags(directory, flags)


def _restore_selection_flags(catalog: Catalog, selection: Selection, dest: str, label: str,
                             listener: Listener, skipped: set[bytes]) -> None:
    """The set's inode flags on what the selection restored (not on what the policy left
    alone): after the extraction, immutable and append-only last."""
    # What the policy left alone is "covered": its flags are not the restore's to set.
    tree = TreeOfFs(os.fsencode(dest.rstrip("/")), b"", skipped)
    for sql, params in selection.conditions():
        restore_flags(catalog, selection.fs, tree, label, listener, sql, params)


def _selected_dirs(catalog: Catalog, selection: Selection) -> set[bytes]:
    """Selected directories: tar creates them from the stream, with their metadata."""
    dirs: set[bytes] = set()
    for sql, params in selection.conditions():
        for span in catalog.spans(selection.fs, f"kind = 'dir' AND {sql}", params):
            dirs.add(span.path)
    return dirs


def destination(into: str, fs: Filesystem, backup_set: BackupSet | None = None) -> str:
    """Where filesystem fs's root goes under into: at its mount point, as on the original
    machine; a filesystem that had none goes to into/fs-N, unless it is the set's only
    filesystem with a file list (paths such as /etc then name it, see browse.resolve). A btrfs
    subvolume the machine did not mount goes where its path in the top level puts it:
    into/fs-N/@snap1."""
    if fs.mountpoint.startswith("/"):
        return os.path.join(into, fs.mountpoint.lstrip("/")).rstrip("/") or into
    if backup_set is not None:
        holder = backup_set.holder_of(fs)
        whole = [f for f in backup_set.file_trees() if not f.subvolume]
        top = into if whole == [holder] else os.path.join(into, f"fs-{holder.id}")
        return os.path.join(top, fs.subvolume) if fs.subvolume else top
    return os.path.join(into, f"fs-{fs.id}")


def _prepare_destination(backup_set: BackupSet, catalog: Catalog, into: str,
                         fs: Filesystem) -> tuple[str, list[tuple[bytes, Entry | None]]]:
    """Creates the directories from into down to fs's destination; returns it and those
    created, each with its catalog entry (found through the filesystem that holds it)."""
    dest = destination(into, fs, backup_set)
    created: list[tuple[bytes, Entry | None]] = []
    relative = os.path.relpath(dest, into)
    if relative == ".":
        return dest, created
    machine_path = ""
    for part in relative.split("/"):
        machine_path += "/" + part
        where = os.path.join(into, machine_path.lstrip("/"))
        _check_not_symlink(os.fsencode(where), os.fsencode(into))
        if os.path.lexists(where):
            continue
        os.mkdir(where, 0o700)
        entry = None
        try:
            if fs.mountpoint.startswith("/"):
                owner, inner = resolve(backup_set, machine_path)
            else:
                owner, inner = fs, b"/"
            entry = catalog.lookup(owner.id, inner)
        except RestoreError:
            pass
        created.append((os.fsencode(where), entry))
    return dest, created


def selection_for_paths(backup_set: BackupSet, catalog: Catalog,
                        paths: list[str]) -> list[Selection]:
    """One selection per filesystem from paths of the original machine (or fs-N:/path)."""
    by_fs: dict[int, Selection] = {}
    for path in paths:
        fs, inner = resolve(backup_set, path)
        if catalog.lookup(fs.id, inner) is None:
            raise UsageError(f"{path} is not in the set.",
                             "List its directory with 'restore-console ls SET DIR' to see "
                             "what is there.")
        by_fs.setdefault(fs.id, Selection(fs.id)).include(inner)
    return list(by_fs.values())


def _check_policy(existing: str) -> None:
    if existing not in EXISTING_POLICIES:
        raise RestoreError(f"Unknown policy for existing files: {existing}.",
                           f"Choose one of {', '.join(EXISTING_POLICIES)}.")


def check_restorable(fs: Filesystem) -> None:
    """Single files come only from a filesystem archived file by file (tar)."""
    if fs.archive is None or fs.archive.kind != "tar":
        raise RestoreError(f"Filesystem {fs.id} ({fs.title}) was saved as an image; "
                           "single files cannot be taken from it.",
                           "Restore the whole disk, or mount the restored image.")


def _restore_filesystem(backup_set: BackupSet, catalog: Catalog, fs: Filesystem,
                        selection: Selection, dest: str, existing: str,
                        listener: Listener, shown: str = "",
                        cancel: CancelToken | None = None) -> SelectionResult:
    """One filesystem's selection into dest, the directory standing for its root (`shown`:
    how the operator knows it, if not by that path)."""
    check_restorable(fs)
    name = fs.archive.pieces[0].file
    single_piece(fs.archive, backup_set.path, fs.title)
    totals = selection.totals(catalog)
    listener(Message(f"Restoring {entries_and_data(totals.entries, totals.bytes)} of "
                     f"{fs.title} into {shown or dest}"))
    # A file that can seek (a directory, ISO volumes): only the frames needed are read
    piece = backup_set.medium.open_random(name, listener)
    if piece is None:  # a tape: one pass forward, only the frames needed decompressed
        with backup_set.medium.open_piece(name, listener) as stream:
            return extract_selection(catalog, selection, dest, label=fs.title,
                                     archive_name=name, stream=stream, existing=existing,
                                     listener=listener, cancel=cancel)
    with piece as source, SeekableReader(source, name) as reader:
        return extract_selection(catalog, selection, dest, label=fs.title,
                                 archive_name=name, reader=reader,
                                 existing=existing, listener=listener, cancel=cancel)


def _refuse_mismatched(result: SelectionResult) -> None:
    if result.mismatched:
        shown = ", ".join(os.fsdecode(p) for p in result.mismatched[:MAX_NAMED])
        more = len(result.mismatched) - MAX_NAMED
        raise RestoreError(f"{len(result.mismatched)} restored files do not match their BLAKE3 "
                           f"in the catalog: {shown}{f' and {more} more' if more > 0 else ''}.",
                           "The set is damaged: restore those files from another copy.")


def restore_selection(backup_set: BackupSet, selections: list[Selection], into: str, *,
                      existing: str = "overwrite", listener: Listener = ignore,
                      cancel: CancelToken | None = None) -> SelectionResult:
    """Restores the selected entries under into, each at its original path (filesystems at
    their mount points), reading only the frames that hold them."""
    started = time.monotonic()
    _check_policy(existing)
    into = os.path.abspath(into)
    os.makedirs(into, exist_ok=True)
    result = SelectionResult()
    chosen = [(backup_set.filesystem(s.fs), s) for s in selections if s]
    # Parents before children: / before /srv before /srv/data, as filesystems are mounted.
    chosen.sort(key=lambda pair: (pair[0].mountpoint.rstrip("/").count("/")
                                  if pair[0].mountpoint.startswith("/") else 99,
                                  pair[0].mountpoint, pair[0].id))
    created: list[tuple[bytes, Entry | None]] = []
    with Catalog(backup_set.catalog_path) as catalog:
        for fs, selection in chosen:
            check_restorable(fs)
            dest, made = _prepare_destination(backup_set, catalog, into, fs)
            created += made
            stop_if_cancelled(cancel, CANCELLED)
            result.add(_restore_filesystem(backup_set, catalog, fs, selection, dest, existing,
                                           listener, cancel=cancel))
    apply_directory_metadata(created)
    result.seconds = time.monotonic() - started
    _refuse_mismatched(result)
    return result


def restore_into_roots(backup_set: BackupSet, roots: list[tuple[Selection, str, str]], *,
                       existing: str = "overwrite", listener: Listener = ignore,
                       cancel: CancelToken | None = None) -> SelectionResult:
    """Restores each selection into the directory given with it, which stands for the root of
    the selection's own filesystem (for a restore in place: where that filesystem is
    mounted), named in messages by the words given third. Nothing is created above those
    directories."""
    started = time.monotonic()
    _check_policy(existing)
    result = SelectionResult()
    with Catalog(backup_set.catalog_path) as catalog:
        for selection, dest, shown in roots:
            if selection:
                stop_if_cancelled(cancel, CANCELLED)
                result.add(_restore_filesystem(backup_set, catalog,
                                               backup_set.filesystem(selection.fs), selection,
                                               dest, existing, listener, shown, cancel))
    result.seconds = time.monotonic() - started
    _refuse_mismatched(result)
    return result
