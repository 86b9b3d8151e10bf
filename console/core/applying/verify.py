"""Comparing a restored tree with the set's catalog: kind, metadata, link targets, content, and
what is on the disk that the set does not hold (extras, for whole filesystems only)."""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from dataclasses import dataclass, field

from ..backupset.catalog import Catalog
from ..backupset.entries import Entry
from ..backupset.manifest import file_digest, load_set
from ..errors import UsageError
from ..events import Listener, Progress, ignore
from ..layout import Filesystem
from . import differences as said
from ..units import count, number
from .flags import flag_differences
from .ondisk import TreeOfFs, find_extras, identities

EXTRAS_LISTED = 20  # in words; a disk used for weeks after its backup can hold thousands

_KIND_OF_MODE = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink",
                 stat.S_IFCHR: "chardev", stat.S_IFBLK: "blockdev", stat.S_IFIFO: "fifo"}


@dataclass
class Difference:
    path: str
    what: str


@dataclass
class VerifyResult:
    checked: int = 0
    bytes_hashed: int = 0
    differences: list[Difference] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # filesystems not checked, and why
    covered: int = 0  # mount points not checked: another filesystem is mounted over them

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def extras(self) -> list[Difference]:
        return [d for d in self.differences if d.what == said.EXTRA]

    def summary(self) -> str:
        """534 of 535 entries checked, no differences (...): see checked_words."""
        return checked_words(self.checked, self.covered, len(self.differences),
                             len(self.extras))


def checked_words(checked: int, covered: int, differences: int, extra: int = 0) -> str:
    """How many entries a comparison checked, of those the set holds, and what it found
    (differences includes the extra entries, which are said apart).

    A directory that is a mount point on the original machine is restored, but another
    filesystem is mounted over it, so it cannot be checked: said, so that the count is the
    one the restore gave."""
    if covered:
        words = f"{number(checked)} of {count(checked + covered, 'entry')} checked"
    else:
        words = f"{count(checked, 'entry')} checked"
    found = []
    if differences - extra:
        found.append(count(differences - extra, "difference"))
    if extra:
        found.append(f"{count(extra, 'extra entry', 'extra entries')} on disk, not in the set")
    words += ", " + " and ".join(found) if found else ", no differences"
    if covered:
        words += (f" ({count(covered, 'mount point')} not: another filesystem is mounted "
                  f"over {'it' if covered == 1 else 'them'})")
    return words


def listed(differences: list[Difference], extras: int = EXTRAS_LISTED) -> list[str]:
    """'path: what' for every difference, the extras last and only the first `extras` of
    them, then how many more."""
    changed = [d for d in differences if d.what != said.EXTRA]
    extra = [d for d in differences if d.what == said.EXTRA]
    lines = [f"{d.path}: {d.what}" for d in changed + extra[:extras]]
    if len(extra) > extras:
        lines.append(said.more_extra(len(extra) - extras))
    return lines


_QUICK_KINDS = {"file": stat.S_IFREG, "dir": stat.S_IFDIR}


def _matches_quickly(row: tuple, path: bytes) -> bool:
    """True when a file or directory is as catalogued (row: Catalog.metadata's) by one lstat
    and one comparison; what this does not settle (other kinds, any difference) goes to
    _compare, which says why."""
    _, kind_name, mode, uid, gid, mtime_ns, size = row
    kind = _QUICK_KINDS.get(kind_name)
    if kind is None:
        return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (st.st_mode == kind | mode and st.st_uid == uid and st.st_gid == gid
            and st.st_mtime_ns == mtime_ns and (kind == stat.S_IFDIR or st.st_size == size))


def _compare(entry: Entry, path: bytes, root_of_fs: bytes, content: bool = True) -> list[str]:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return [said.MISSING]
    kind = _KIND_OF_MODE.get(stat.S_IFMT(st.st_mode), "other")
    expected_kind = "file" if entry.kind == "hardlink" else entry.kind
    if kind != expected_kind:
        return [said.kind(kind, expected_kind)]
    problems = []
    if entry.kind == "hardlink":
        try:
            other = os.lstat(root_of_fs + entry.link)
        except FileNotFoundError:
            return [f"hard link target {os.fsdecode(entry.link)} missing"]
        if (other.st_dev, other.st_ino) != (st.st_dev, st.st_ino):
            problems.append(f"not a hard link to {os.fsdecode(entry.link)}")
        return problems
    if stat.S_IMODE(st.st_mode) != entry.mode:
        problems.append(said.mode(stat.S_IMODE(st.st_mode), entry.mode))
    if (st.st_uid, st.st_gid) != (entry.uid, entry.gid):
        problems.append(said.owner((st.st_uid, st.st_gid), (entry.uid, entry.gid)))
    if kind != "symlink" and st.st_mtime_ns != entry.mtime_ns:
        problems.append(said.modified(st.st_mtime_ns, entry.mtime_ns))
    if kind == "symlink" and os.readlink(path) != entry.link:
        problems.append(said.link_target(os.fsdecode(os.readlink(path)),
                                         os.fsdecode(entry.link)))
    if kind in ("chardev", "blockdev") and (os.major(st.st_rdev), os.minor(st.st_rdev)) != (
            entry.devmajor, entry.devminor):
        problems.append("device numbers differ")
    if kind == "file":
        if st.st_size != entry.size:
            problems.append(said.file_size(st.st_size, entry.size))
        elif content and entry.blake3 is not None and file_digest(path) != entry.blake3:
            problems.append(said.CONTENT)
    return problems


def verify(set_path: str, root: str, listener: Listener = ignore) -> VerifyResult:
    """Checks every catalogued member of the filesystems mounted under root (the restored
    system), and finds what is there that the set does not hold (the set itself aside)."""
    backup_set = load_set(set_path)
    if not os.path.isdir(root):
        raise UsageError(f"{root} is not a directory.", "Give the root of the restored system.")
    result = VerifyResult()
    archived = backup_set.file_trees()
    mountpoints = {fs.mountpoint for fs in archived if fs.mountpoint}
    the_set = identities([set_path, backup_set.path])
    progress = Progress("Verifying", files_total=sum(fs.archive.members for fs in archived
                                                     if fs.mountpoint),
                        bytes_total=sum(fs.bytes_used for fs in archived if fs.mountpoint))
    with Catalog(backup_set.catalog_path) as catalog:
        for fs in archived:
            if not fs.mountpoint:
                result.skipped.append(f"{fs.title}: no mount point in the source's fstab")
                continue
            base = os.path.join(root, fs.mountpoint.lstrip("/")).rstrip("/")
            check_filesystem(catalog, fs, base, mountpoints, result, progress, listener,
                             leave_out=the_set)
    listener(progress)
    result.differences.sort(key=lambda d: d.what == said.EXTRA)  # stable: extras last
    return result


def problems_of(catalog: Catalog, fs_id: int, row: tuple, tree: TreeOfFs,
                content: bool = False) -> list[str]:
    """What differs between a catalogued member (a Catalog.metadata row) and the tree; settled
    by one lstat where it can be, and in detail (reading the whole entry) where not."""
    if not (content and row[1] == "file") and _matches_quickly(row, tree.path(row[0])):
        return []
    entry = catalog.lookup(fs_id, row[0])
    return _compare(entry, tree.path(row[0]), tree.root, content)


def check_filesystem(catalog: Catalog, fs: Filesystem, base: str, mountpoints: set[str],
                     result: VerifyResult, progress: Progress, listener: Listener = ignore, *,
                     content: bool = True, leave_out: Collection[tuple[int, int]] = (),
                     flags_left_out: int = 0, shown_as: str | None = None) -> None:
    """Compares the tree at base with filesystem fs's catalog, adding to result; then what is
    in the tree and not in the catalog, as extras (but what `leave_out` names). Directories
    in `mountpoints` (the original paths) are skipped: another filesystem is mounted there.
    Without `content`, files are compared by their metadata and size only; inode flags in
    `flags_left_out` (those the target was found not to take) are not compared. Paths are
    said under fs's mount point, or under `shown_as` (fs-1:/@snap1 for a subvolume)."""
    tree = TreeOfFs.of(fs.mountpoint if shown_as is None else shown_as, base, mountpoints)
    for row in catalog.metadata(fs.id):
        inner = row[0]
        if tree.is_covered(inner):
            result.covered += 1
            continue
        for problem in problems_of(catalog, fs.id, row, tree, content):
            result.differences.append(Difference(tree.shown(inner), problem))
        result.checked += 1
        if content and row[1] == "file":
            result.bytes_hashed += row[6]
        if result.checked % 500 == 0:
            progress.files_done = result.checked
            progress.bytes_done = result.bytes_hashed
            progress.current = tree.shown(inner)
            listener(progress)
    progress.files_done = result.checked
    progress.bytes_done = result.bytes_hashed
    result.differences += [Difference(tree.shown(inner), what)
                           for inner, what in flag_differences(catalog, fs.id, tree,
                                                               leave_out=flags_left_out)]
    result.differences += extra_differences(catalog, fs.id, tree, leave_out)


def extra_differences(catalog: Catalog, fs_id: int, tree: TreeOfFs,
                      leave_out: Collection[tuple[int, int]] = ()) -> list[Difference]:
    return [Difference(tree.shown(inner), said.EXTRA)
            for inner in find_extras(catalog, fs_id, tree, leave_out)]
