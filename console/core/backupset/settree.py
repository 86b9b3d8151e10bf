"""The picker's one tree of a set: its filesystems mounted at their mount points, as on the
machine (/, then /boot and /home as directories of /), one selection per filesystem.

A filesystem whose mount point is not a directory of the filesystem above it (that one was
saved as an image, or is not in the set) is a tree of its own, named by its mount point; one
that had no mount point is a tree of its own too, named fs-N:/ and said to have none. The trees
follow one another: the machine's / first.

The restore takes the selections per filesystem (selections()); rows, marks, totals and the
search go across the filesystems. Each tree is a filetree.TreeModel, as lazy as before: setting
the trees up asks the catalog a few questions per filesystem, not per file.
"""

from __future__ import annotations

import os

from ..layout import Filesystem
from .catalog import Catalog
from .entries import Row, SearchState, Totals
from .filetree import TreeModel, next_index, tree_key
from .manifest import BackupSet
from .selection import Selection


def unmounted_title(fs: Filesystem) -> str:
    """How the tree names the root of a filesystem that had no mount point (for a btrfs with
    subvolumes: its top level, with those the machine did not mount, which are shown there)."""
    what = fs.type or "filesystem"
    if fs.label:
        what += f' "{fs.label}"'
    if fs.subvolumes:
        unmounted = [s.path for s in fs.subvolumes if not s.mountpoint]
        return (f"fs-{fs.id}:/  ({what}, its top level, had no mount point"
                + (f"; subvolumes not mounted: {', '.join(unmounted)}" if unmounted else "")
                + ")")
    return f"fs-{fs.id}:/  ({what}, had no mount point)"


class _Plan:
    """One tree to make: its filesystem, name, base and the filesystems mounted in it."""

    def __init__(self, fs: int, title: str, base: bytes):
        self.fs, self.title, self.base = fs, title, base
        self.mounts: dict[bytes, int] = {}

    def local(self, point: bytes) -> bytes | None:
        """point as a path of this tree, if it is inside it."""
        if not self.base or self.base.endswith(b":"):
            return point if not self.base else None
        if point == self.base:
            return b"/"
        return point[len(self.base):] if point.startswith(self.base + b"/") else None

    def owner(self, path: bytes) -> tuple[int, bytes]:
        """(filesystem, path inside it) of a path of this tree, with the mounts so far."""
        for point in sorted(self.mounts, key=len, reverse=True):
            if path.startswith(point + b"/"):
                return self.mounts[point], path[len(point):]
        return self.fs, path


def arrange(filesystems: list[Filesystem], catalog: Catalog,
            holders: dict[int, int] | None = None) -> list[_Plan]:
    """Where each filesystem goes: grafted on a directory of the one it was mounted in, else
    a tree of its own. One lookup per filesystem. A btrfs subvolume the machine did not mount
    (`holders`: its view's id -> the btrfs's id) is grafted at its path in the btrfs's top
    level."""
    holders = holders or {}
    mounted = sorted((fs for fs in filesystems if fs.mountpoint.startswith("/")),
                     key=lambda fs: tree_key(os.fsencode(os.path.normpath(fs.mountpoint))))
    plans: list[_Plan] = []
    for fs in mounted:
        point = os.fsencode(os.path.normpath(fs.mountpoint))
        if point.startswith(b"//"):
            point = point[1:]
        host = None
        for plan in plans:
            local = plan.local(point)
            if local is not None and local != b"/" and local not in plan.mounts:
                host = (plan, local)
        if host is not None:
            plan, local = host
            owner = plan.owner(local)
            entry = catalog.lookup(*owner)
            if entry is not None and entry.kind == "dir":
                plan.mounts[local] = fs.id
                continue
        plans.append(_Plan(fs.id, fs.mountpoint, b"" if point == b"/" else point))
    for fs in filesystems:
        if not fs.mountpoint.startswith("/") and not fs.subvolume:
            plans.append(_Plan(fs.id, unmounted_title(fs), b"fs-%d:" % fs.id))
    for fs in filesystems:
        if fs.mountpoint.startswith("/") or not fs.subvolume:
            continue
        holder = holders.get(fs.id)
        for plan in plans:
            point = b"" if plan.fs == holder else next(
                (p for p, mounted in plan.mounts.items() if mounted == holder), None)
            if point is not None:
                plan.mounts[point + b"/" + os.fsencode(fs.subvolume)] = fs.id
                break
    return plans


class SetTrees:
    """The set's filesystems that have a file list, as one tree (see the module's docstring);
    what the picker's FileTree shows, and the selections the restore takes."""

    def __init__(self, backup_set: BackupSet, catalog: Catalog):
        self.backup_set = backup_set
        self.catalog = catalog
        self.filesystems = backup_set.file_trees()
        self._selections = {fs.id: Selection(fs.id) for fs in self.filesystems}
        holders = {fs.id: backup_set.holder_of(fs).id for fs in self.filesystems
                   if fs.subvolume}
        self.trees = [TreeModel(catalog, plan.fs, root_name=plan.title, mounts=plan.mounts,
                                selections=self._selections, base=plan.base)
                      for plan in arrange(self.filesystems, catalog, holders)]
        self.search_state = SearchState()
        self._matches: list[tuple[int, bytes]] = []  # (tree, path in it), in the rows' order

    # ---- the selections, for the restore ----

    def selections(self) -> list[Selection]:
        """The selections that choose something, by filesystem."""
        return [s for _, s in sorted(self._selections.items()) if s]

    def totals(self) -> Totals:
        total = Totals()
        for selection in self.selections():
            total = total + selection.totals(self.catalog)
        return total

    def all_totals(self) -> Totals:
        total = Totals()
        for fs in self.filesystems:
            total = total + self.catalog.totals(fs.id, b"/")
        return total

    # ---- rows: the trees one after the other ----

    @property
    def height(self) -> int:
        return sum(tree.height for tree in self.trees)

    def _at(self, y: int) -> tuple[int, int]:
        """(tree, its row) of row y; past the end, the last tree's row past its end."""
        for n, tree in enumerate(self.trees):
            if y < tree.height or n == len(self.trees) - 1:
                return n, y
            y -= tree.height
        return 0, y

    def _first_row(self, n: int) -> int:
        return sum(tree.height for tree in self.trees[:n])

    def rows(self, start: int, count: int) -> list[Row]:
        out: list[Row] = []
        for tree in self.trees:
            if count <= len(out):
                break
            if start < tree.height:
                out += tree.rows(start, count - len(out))
                start = 0
            else:
                start -= tree.height
        return out

    def row(self, y: int) -> Row | None:
        if not self.trees or y < 0:
            return None
        n, local = self._at(y)
        return self.trees[n].row(local)

    def row_of(self, path: bytes) -> int | None:
        """The row showing path (as Row.path names it), if it is open all the way up."""
        found = self._tree_of(path)
        if found is None:
            return None
        n, local = found
        y = self.trees[n].row_of(local)
        return None if y is None else self._first_row(n) + y

    def is_open(self, path: bytes) -> bool:
        """Whether the directory path (as Row.path names it) is open."""
        found = self._tree_of(path)
        return found is not None and self.trees[found[0]].is_open(found[1])

    def _tree_of(self, path: bytes) -> tuple[int, bytes] | None:
        """(tree, path in it) of path as Row.path names it: the tree with the longest base
        that holds it (/srv/www/a is in the /srv/www tree, not in /'s)."""
        held = [(len(tree.base), n, local) for n, tree in enumerate(self.trees)
                if (local := self._local(tree, path)) is not None]
        if not held:
            return None
        _, n, local = max(held)
        return n, local

    @staticmethod
    def _local(tree: TreeModel, path: bytes) -> bytes | None:
        if not tree.base:
            return path if path.startswith(b"/") else None
        if tree.base.endswith(b":"):
            return path[len(tree.base):] if path.startswith(tree.base + b"/") else None
        if path == tree.base:
            return b"/"
        return path[len(tree.base):] if path.startswith(tree.base + b"/") else None

    def parent_row(self, y: int) -> int:
        n, local = self._at(y)
        return self._first_row(n) + self.trees[n].parent_row(local)

    def expand(self, y: int) -> bool:
        n, local = self._at(y)
        return self.trees[n].expand(local)

    def collapse(self, y: int) -> bool:
        n, local = self._at(y)
        return self.trees[n].collapse(local)

    def toggle_expanded(self, y: int) -> bool:
        n, local = self._at(y)
        return self.trees[n].toggle_expanded(local)

    def toggle_selected(self, y: int) -> None:
        n, local = self._at(y)
        self.trees[n].toggle_selected(local)

    # ---- search, across every filesystem ----

    def search(self, pattern: str) -> SearchState:
        """Finds entries matching pattern (see Catalog.search) in every filesystem."""
        entries, paths, more = [], [], False
        self._matches = []
        for n, tree in enumerate(self.trees if pattern else []):
            found, cut = tree.find(pattern)
            more = more or cut
            for path, entry in found:
                self._matches.append((n, path))
                entries.append(entry)
                paths.append(tree.shown(path))
        self.search_state = SearchState(pattern, entries, paths, more)
        return self.search_state

    def next_match(self, y: int, backwards: bool = False,
                   include_current: bool = False) -> int | None:
        """Opens the way to the first match after row y (before it, backwards) and returns
        its row; wraps around; None without matches."""
        if not self._matches:
            return None
        keys = [(n, tree_key(path)) for n, path in self._matches]
        n, local = self._at(y)
        here = self.trees[n].path_of(local)
        key = (n, tree_key(here) if here is not None else [])
        i = next_index(keys, key, backwards, include_current)
        self.search_state.current = i
        n, path = self._matches[i]
        y = self.trees[n].reveal(path)
        return None if y is None else self._first_row(n) + y


__all__ = ["SetTrees", "arrange", "unmounted_title"]
