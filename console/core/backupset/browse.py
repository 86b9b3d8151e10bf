"""Finding paths of the original system in the catalog, across its filesystems.

A path such as /boot/grub belongs to the filesystem with the longest mount point that
contains it; a btrfs subvolume counts as a filesystem of its own, at the mount point the
machine had it at. Filesystems that had no mount point are reached as "fs-N:/path"; for a
btrfs, that is its top level, and its subvolumes are there at their paths (fs-2:/@snap1/etc).
"""

from __future__ import annotations

import os
import re

from ..errors import UsageError
from ..layout import Filesystem
from .catalog import Catalog
from .entries import Entry
from .manifest import BackupSet

_FS_PREFIX = re.compile(r"^fs-(\d+):(.*)$")


def resolve(backup_set: BackupSet, path: str) -> tuple[Filesystem, bytes]:
    """(filesystem, path inside it as the catalog stores it) for a path of the original system."""
    archived = backup_set.file_trees()
    match = _FS_PREFIX.match(path)
    if match:
        fs = backup_set.filesystem(int(match.group(1)))
        if fs.archive is None or fs.archive.kind != "tar":
            raise UsageError(f"Filesystem {fs.id} ({fs.title}) was saved as an image; it has "
                             "no file list.")
        inner = os.path.normpath("/" + (match.group(2) or "/").lstrip("/"))
        return in_subvolume(fs, inner)
    path = os.path.normpath("/" + path.lstrip("/"))
    best = None
    for fs in archived:
        point = fs.mountpoint.rstrip("/") or "/"
        if fs.mountpoint and (path == point or path.startswith(point.rstrip("/") + "/")):
            if best is None or len(point) > len(best.mountpoint.rstrip("/") or "/"):
                best = fs
    if best is None:
        whole = [fs for fs in archived if not fs.subvolume]
        if len(whole) == 1 and not whole[0].mountpoint:
            return in_subvolume(whole[0], path)  # the only one: its paths need no name
        names = ", ".join(f"fs-{fs.id}: ({fs.title})" for fs in archived)
        raise UsageError(f"No filesystem of the set was mounted at {path}.",
                         f"Name one as fs-N:/path; the set has {names}.")
    point = best.mountpoint.rstrip("/")
    return best, os.fsencode(path[len(point):] or "/")


def in_subvolume(fs: Filesystem, inner: str) -> tuple[Filesystem, bytes]:
    """(file tree, path in it) of a path of a btrfs's top level: the subvolume with the
    longest path that holds it, else the top level itself."""
    holders = [s for s in fs.subvolumes if s.archive is not None
               and (inner == "/" + s.path or inner.startswith("/" + s.path + "/"))]
    if not holders:
        return fs, os.fsencode(inner)
    subvolume = max(holders, key=lambda s: len(s.path))
    return fs.subvolume_view(subvolume), os.fsencode(inner[len(subvolume.path) + 1:] or "/")


def list_directory(backup_set: BackupSet, path: str) -> tuple[Filesystem, list[Entry]]:
    fs, inner = resolve(backup_set, path)
    with Catalog(backup_set.catalog_path) as catalog:
        entry = catalog.lookup(fs.id, inner)
        if entry is None:
            raise UsageError(f"{path} is not in the set.",
                             "List its parent directory to see what is there.")
        if entry.kind != "dir":
            return fs, [entry]
        return fs, catalog.list_dir(fs.id, inner)


def search(backup_set: BackupSet, path: str, pattern: str,
           limit: int = 10_000) -> tuple[Filesystem, list[Entry], bool]:
    """Entries below path (in the filesystem holding it) whose name matches pattern."""
    fs, inner = resolve(backup_set, path)
    with Catalog(backup_set.catalog_path) as catalog:
        if catalog.lookup(fs.id, inner) is None:
            raise UsageError(f"{path} is not in the set.",
                             "List its parent directory to see what is there.")
        entries, more = catalog.search(fs.id, pattern, limit, under=inner)
    return fs, entries, more
