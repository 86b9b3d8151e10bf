"""Full restore of mapped disks: table, filesystems, mounts, extraction with verification.

Everything that can be known before writing is checked before the first write: the mapping,
the target sizes, the pieces (present, complete, BLAKE3), and the safety of every target, which
is checked once more right before its first write.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field

from .archive import extract_raw_archive, extract_tar_archive
from .backupset import BackupSet, check_pieces, load_set
from .blockdev import attach_disk, device_size, mounted
from .catalog import Catalog
from .errors import RestoreError, UsageError
from .events import Listener, Message, ignore
from .layout import Filesystem
from .mkfs import make_filesystem
from .partition_table import write_table
from .safety import check_target
from .seekable import SeekableReader
from .system import run

log = logging.getLogger("restore_console")

MAX_NAMED_FILES = 10
# The restored xfs has the original's UUID; xfs refuses a second mount of a UUID otherwise.
_TARGET_OPTIONS = {"xfs": "nouuid"}


@dataclass
class RestoreResult:
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    filesystems: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)


def parse_maps(maps: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in maps:
        src, sep, target = item.partition("=")
        if not sep or not src or not target:
            raise UsageError(f"--map {item!r} is not of the form SRC=TARGET.",
                             "Example: --map /dev/sda=/dev/sdb")
        if src in mapping:
            raise UsageError(f"--map names {src} twice.")
        mapping[src] = target
    targets = list(mapping.values())
    for target in targets:
        if targets.count(target) > 1:
            raise UsageError(f"--map sends two disks to {target}.",
                             "Give each original disk its own target.")
    return mapping


def check_mapping(backup_set: BackupSet, mapping: dict[str, str]) -> None:
    """Refuses a mapping that cannot be restored as given; nothing has been written yet."""
    for src, target in mapping.items():
        disk = backup_set.disk(src)
        if not os.path.exists(target):
            raise RestoreError(f"The target {target} does not exist.",
                               "Name an existing disk or disk-image file.")
        size = device_size(target)
        if size < disk.size:
            raise RestoreError(
                f"The target {target} is too small: {size} bytes, the original disk {src} "
                f"had {disk.size} bytes.",
                "Choose a disk at least as large as the original.")
        if size > disk.size:
            raise RestoreError(
                f"The target {target} is {size} bytes, the original disk {src} had {disk.size}: "
                "this release restores onto disks of the same size only.",
                "Choose a disk of the same size (resizing comes with disk mapping).")


def _damaged_files(backup_set: BackupSet, fs: Filesystem) -> list[bytes]:
    """Paths of the members in frames that fail to decompress (zstd checks each frame)."""
    damaged: list[bytes] = []
    piece = fs.archive.pieces[0]
    reader = SeekableReader(backup_set.piece_path(piece), piece.file)
    with reader, Catalog(backup_set.catalog_path) as catalog:
        for frame in reader.frames:
            try:
                next(reader.iter_frames(frame.index, frame.index + 1, threads=1))
            except RestoreError:
                start, end = frame.d_offset, frame.d_offset + frame.d_size
                damaged += catalog.paths_overlapping(fs.id, start, end)
    return damaged


def _describe(paths: list[bytes]) -> str:
    shown = ", ".join(os.fsdecode(p) for p in paths[:MAX_NAMED_FILES])
    more = len(paths) - MAX_NAMED_FILES
    return shown + (f" and {more} more" if more > 0 else "")


def check_archives(backup_set: BackupSet, filesystems: list[Filesystem]) -> None:
    """Every piece present, complete and with its BLAKE3; names the files a bad piece affects."""
    for fs in filesystems:
        if fs.archive is None:
            continue
        bad = check_pieces(backup_set, fs.archive, f"filesystem {fs.id} ({fs.title})")
        if not bad:
            continue
        files = _damaged_files(backup_set, fs) if fs.archive.kind == "tar" else []
        affected = (f"affected files: {_describe(files)}" if files
                    else "the damage cannot be narrowed to single files")
        raise RestoreError(
            f"The archive {bad[0].file} of filesystem {fs.id} ({fs.title}) does not match its "
            f"BLAKE3 checksum; {affected}. Nothing was written.",
            "Use another copy of the set, or restore the other filesystems from the shell.")


class _ExpectedHashes:
    """The catalog's BLAKE3 for members in stream order, read alongside the stream."""

    def __init__(self, catalog: Catalog, fs_id: int):
        self._rows = catalog.hashes_in_order(fs_id)
        self._current: tuple[int, bytes | None] = (-1, None)

    def __call__(self, offset: int) -> bytes | None:
        while self._current[0] < offset:
            row = next(self._rows, None)
            if row is None:
                return None
            self._current = row
        return self._current[1] if self._current[0] == offset else None


def _mount_order(filesystems: list[Filesystem]) -> list[Filesystem]:
    """Filesystems with a mount point, parents before children (/ before /boot before /boot/efi)."""
    mounted_ones = [fs for fs in filesystems if fs.mountpoint.startswith("/")]
    return sorted(mounted_ones, key=lambda fs: (fs.mountpoint.rstrip("/").count("/"),
                                                fs.mountpoint))


def restore(set_path: str, mapping: dict[str, str], listener: Listener = ignore) -> RestoreResult:
    """Restores the mapped disks of the set at set_path. The caller has the operator's consent."""
    started = time.monotonic()
    backup_set = load_set(set_path)
    check_mapping(backup_set, mapping)
    chosen = [fs for fs in backup_set.filesystems if fs.disk in mapping]
    result = RestoreResult()
    result.unmapped = [d.name for d in backup_set.disks if d.name not in mapping]
    listener(Message("Checking the archives (presence, size, BLAKE3)"))
    check_archives(backup_set, chosen)
    for target in mapping.values():
        check_target(target, set_path)

    with contextlib.ExitStack() as stack:
        attached = {}
        for src, target in mapping.items():
            disk = backup_set.disk(src)
            check_target(target, set_path)  # again, right before the first write
            listener(Message(f"Writing the partition table of {src} onto {target}"))
            run(["wipefs", "-a", "-q", target], f"wipe the old signatures of {target}")
            write_table(target, disk)
            spans = [(p.number, p.start, p.size) for p in disk.partitions]
            attached[src] = stack.enter_context(attach_disk(target, spans, read_only=False))
            if disk.boot_area is not None:
                first = min(p.start for p in disk.partitions)
                # Boot code and the gap after the table, never the table itself (bytes 440-511).
                extract_raw_archive(disk.boot_area, backup_set.path, attached[src].device,
                                    label=f"the boot area of {src}", listener=listener,
                                    spans=[(0, 440), (512, first)])
        for fs in chosen:
            device = attached[fs.disk].partition(fs.partition)
            run(["wipefs", "-a", "-q", device], f"wipe the old signatures of {device}")
            if fs.archive is not None and fs.archive.kind == "raw":
                listener(Message(f"Writing the image of {fs.device} onto {device}"))
                extract_raw_archive(fs.archive, backup_set.path, device,
                                    label=fs.title, listener=listener)
                result.bytes += fs.archive.uncompressed_size
            else:
                listener(Message(f"Making {fs.type} on {device} (UUID {fs.uuid or '-'}, "
                                 f"label {fs.label or '-'})"))
                make_filesystem(fs, device)
            result.filesystems.append(fs.title)
        tar_filesystems = [fs for fs in chosen if fs.archive is not None and fs.archive.kind == "tar"]
        _extract_all(backup_set, tar_filesystems, attached, result, listener)
    result.seconds = time.monotonic() - started
    return result


def _extract_all(backup_set: BackupSet, filesystems: list[Filesystem], attached, result,
                 listener: Listener) -> None:
    """Mounts in mount-point order under one target root, extracting each right after mounting,
    so a mount point's own directory comes from its parent's archive; filesystems without a
    mount point are extracted on a mount of their own."""
    mismatched: list[tuple[Filesystem, list[bytes]]] = []
    nested = _mount_order(filesystems)
    if not any(fs.mountpoint == "/" for fs in nested):
        nested = []
    with contextlib.ExitStack() as mounts, Catalog(backup_set.catalog_path) as catalog:
        root = tempfile.mkdtemp(prefix="restore-console-target-")
        mounts.callback(os.rmdir, root)
        for fs in nested + [fs for fs in filesystems if fs not in nested]:
            device = attached[fs.disk].partition(fs.partition)
            if fs in nested:
                where = os.path.join(root, fs.mountpoint.lstrip("/"))
                os.makedirs(where, exist_ok=True)
                target = mounts.enter_context(mounted(device, fs.type, _TARGET_OPTIONS.get(fs.type, ""), where=where))
            else:
                target = mounts.enter_context(mounted(device, fs.type, _TARGET_OPTIONS.get(fs.type, "")))
            done = extract_tar_archive(fs.archive, backup_set.path, target, label=fs.title,
                                       expected=_ExpectedHashes(catalog, fs.id), listener=listener)
            result.files += done.files
            result.bytes += done.bytes
            if done.mismatched:
                mismatched.append((fs, done.mismatched))
            if fs in nested and fs.mountpoint == "/":
                _copy_log(target)
    if mismatched:
        fs, paths = mismatched[0]
        raise RestoreError(f"{sum(len(p) for _, p in mismatched)} restored files do not match "
                           f"their BLAKE3 in the catalog; in {fs.title}: {_describe(paths)}.",
                           "The set is damaged: restore those files from another copy.")


def _copy_log(root: str) -> None:
    """Puts the log so far into the restored system, where the admin will look after booting."""
    for handler in logging.getLogger("restore_console").handlers:
        path = getattr(handler, "baseFilename", None)
        if path and os.path.exists(path):
            handler.flush()
            dest = os.path.join(root, "var/log")
            if os.path.isdir(dest):
                before = os.stat(dest)
                shutil.copy(path, os.path.join(dest, "restore-console.log"))
                # Keep the directory as the archive made it: verification compares its mtime.
                os.utime(dest, ns=(before.st_atime_ns, before.st_mtime_ns))
