"""Finding paths of the original system in the catalog, across its filesystems.

A path such as /boot/grub belongs to the filesystem with the longest mount point that
contains it. Filesystems that had no mount point are reached as "fs-N:/path".
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
    archived = [fs for fs in backup_set.filesystems if fs.archive and fs.archive.kind == "tar"]
    match = _FS_PREFIX.match(path)
    if match:
        fs = backup_set.filesystem(int(match.group(1)))
        if fs not in archived:
            raise UsageError(f"Filesystem {fs.id} ({fs.title}) was saved as an image; it has "
                             "no file list.")
        inner = match.group(2) or "/"
        return fs, os.fsencode(os.path.normpath("/" + inner.lstrip("/")))
    path = os.path.normpath("/" + path.lstrip("/"))
    best = None
    for fs in archived:
        point = fs.mountpoint.rstrip("/") or "/"
        if fs.mountpoint and (path == point or path.startswith(point.rstrip("/") + "/")):
            if best is None or len(point) > len(best.mountpoint.rstrip("/") or "/"):
                best = fs
    if best is None:
        if len(archived) == 1:
            return archived[0], os.fsencode(path)
        names = ", ".join(f"fs-{fs.id}: ({fs.title})" for fs in archived)
        raise UsageError(f"No filesystem of the set was mounted at {path}.",
                         f"Name one as fs-N:/path; the set has {names}.")
    point = best.mountpoint.rstrip("/")
    return best, os.fsencode(path[len(point):] or "/")


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
