"""A filesystem of the set as it is on a disk: where its catalogued members are, and what is
there that the set does not hold (the extras).

The walk for extras keeps to the rules the backup archived by, so that nothing the backup left
out by rule is said to be extra: GNU tar's --one-file-system (no descent into another
filesystem: st_dev) and its skipping of sockets. Beside those, what the restore makes itself:
lost+found at the root (mkfs makes it, also where the source had none), directories made to
hold the mount point of another filesystem of the set, and the copy of the restore's log.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from ..backupset.catalog import Catalog

# Where the log and the plan are copied into the restored system at its end (finalize.py):
# the set never holds them. The single file is where an older console put the log.
RESTORE_LOG_DIR = "/var/log/restore-console"
RESTORE_LOG_COPY = "/var/log/restore-console.log"
_MADE_BY_MKFS = b"lost+found"


@dataclass
class TreeOfFs:
    """Where a filesystem's catalogued members are on disk, and how they are named to a person."""

    root: bytes  # the filesystem's root as mounted, without a trailing slash
    prefix: bytes  # its original mount point, prepended to say a path in words
    covered: set[bytes]  # original paths where another filesystem is mounted: not its own

    @classmethod
    def of(cls, mountpoint: str, base: str, mountpoints: set[str]) -> TreeOfFs:
        """The tree of a filesystem originally at mountpoint ("" if none), mounted at base."""
        return cls(root=os.fsencode(base.rstrip("/")),
                   prefix=os.fsencode(mountpoint.rstrip("/")) if mountpoint else b"",
                   covered={os.fsencode(m) for m in mountpoints})

    def path(self, inner: bytes) -> bytes:
        return self.root + (inner if inner != b"/" else b"")

    def shown(self, inner: bytes) -> str:
        return os.fsdecode(self.prefix + inner if inner != b"/" else self.prefix or b"/")

    def is_covered(self, inner: bytes) -> bool:
        return bool(self.covered) and inner != b"/" and self.prefix + inner in self.covered


def identities(paths: Iterable[str]) -> set[tuple[int, int]]:
    """(st_dev, st_ino) of each path that exists: what a walk leaves out (the set itself)."""
    found = set()
    for path in paths:
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            continue
        found.add((st.st_dev, st.st_ino))
    return found


def find_extras(catalog: Catalog, fs_id: int, tree: TreeOfFs,
                leave_out: Collection[tuple[int, int]] = ()) -> list[bytes]:
    """The inner paths, in order, of the entries on disk that filesystem fs_id's catalog does
    not hold. An extra directory is one entry: what is below it is not listed. Entries in
    `leave_out` (st_dev, st_ino) are not either. Where the tree itself is missing: none."""
    top = tree.path(b"/") or b"/"
    try:
        device = os.lstat(top).st_dev
    except OSError:
        return []
    holders = {parent for mountpoint in tree.covered for parent in _parents(mountpoint)}
    extras = []
    pending = [b"/"]
    while pending:
        inner = pending.pop()
        catalogued = catalog.child_kinds(fs_id, inner)
        try:
            with os.scandir(tree.path(inner) or b"/") as listing:
                entries = list(listing)
        except OSError:
            continue  # replaced or unreadable: the comparison of its catalogued entry says so
        for entry in entries:
            child = (inner if inner != b"/" else b"") + b"/" + entry.name
            if tree.is_covered(child):
                continue  # another filesystem of the set is there, compared on its own
            kind = catalogued.get(entry.name)
            if kind == "dir" or (kind is None and tree.prefix + child in holders):
                if _same_filesystem_directory(entry, device):
                    pending.append(child)
                elif kind is None:
                    extras.append(child)
            elif kind is None and not _left_out_by_rule(entry, child, tree, leave_out):
                extras.append(child)
    return sorted(extras)


def _parents(path: bytes) -> list[bytes]:
    """/srv/data/www -> /srv, /srv/data"""
    parts = path.strip(b"/").split(b"/")
    return [b"/" + b"/".join(parts[:n]) for n in range(1, len(parts))]


def _same_filesystem_directory(entry: os.DirEntry, device: int) -> bool:
    """A directory of this filesystem: tar --one-file-system keeps the mount point of another
    one, never what is below it."""
    try:
        return entry.is_dir(follow_symlinks=False) and entry.stat(
            follow_symlinks=False).st_dev == device
    except OSError:
        return False  # gone since it was listed


def _left_out_by_rule(entry: os.DirEntry, child: bytes, tree: TreeOfFs,
                      leave_out: Collection[tuple[int, int]]) -> bool:
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return True  # gone since it was listed
    if stat.S_ISSOCK(st.st_mode):
        return True  # GNU tar says "socket ignored" and archives none
    if child == b"/" + _MADE_BY_MKFS and stat.S_ISDIR(st.st_mode):
        return True
    if (st.st_dev, st.st_ino) in leave_out:
        return True
    return os.fsdecode(tree.prefix + child) in (RESTORE_LOG_COPY, RESTORE_LOG_DIR)
