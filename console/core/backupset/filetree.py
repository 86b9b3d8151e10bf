"""The file picker's tree, as data: which directories are open, and what row y shows.

Nothing is loaded per file. An open directory knows how many children it has (one lookup in
the catalog's subtrees table) and which of its children are open; row y is found by walking
down the open directories, and the rows on screen are read from the catalog a page at a time.
Opening a directory of 100,000 entries costs the same as opening one of ten.

Rows are in the tree's order: a directory, then its children by name, each followed by its own
open subtree. GNU tar --sort=name writes an archive in that same order, so "the next search
match below the cursor" is the next match by stream offset.
"""

from __future__ import annotations

import bisect
import collections
from dataclasses import dataclass, field

from ..errors import RestoreError
from ..layout import Filesystem
from .catalog import Catalog
from .entries import ALL, NONE, SOME, Entry, Row, SearchState, Totals
from .manifest import BackupSet
from .selection import Selection, ancestors

PAGE = 128
CACHED_PAGES = 64
SEARCH_LIMIT = 1000


@dataclass
class _Open:
    """An open directory: its children count and its open children, by position."""

    path: bytes
    index: int  # position among its parent's children (0 for the root)
    children: int
    parent: "_Open | None" = None
    kids: list["_Open"] = field(default_factory=list)  # sorted by index
    height: int = 0  # rows below this directory's own row

    def kid_indexes(self) -> list[int]:
        return [k.index for k in self.kids]


class TreeModel:
    """The tree of one filesystem of a set, with the selection made in it."""

    def __init__(self, catalog: Catalog, fs: int, selection: Selection | None = None,
                 root_name: str = "/"):
        self.catalog = catalog
        self.fs = fs
        self.selection = selection if selection is not None else Selection(fs)
        self.root_name = root_name
        root = catalog.lookup(fs, b"/")
        if root is None:
            raise RestoreError(f"The catalog has no root directory for filesystem {fs}.",
                               "The set is damaged; use another copy of the set.")
        self._root_entry = root
        self._open: dict[bytes, _Open] = {}
        self._pages: collections.OrderedDict = collections.OrderedDict()
        self.search_state = SearchState()
        self.expand_path(b"/")

    # ---- shape ----

    @property
    def height(self) -> int:
        """Rows in the tree: the root and everything open below it."""
        root = self._open.get(b"/")
        return 1 + (root.height if root else 0)

    def is_open(self, path: bytes) -> bool:
        return path in self._open

    def _page(self, path: bytes, number: int) -> list[tuple[Entry, int, int]]:
        key = (path, number)
        page = self._pages.get(key)
        if page is None:
            page = self.catalog.list_dir_totals(self.fs, path, number * PAGE, PAGE)
            self._pages[key] = page
            if len(self._pages) > CACHED_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(key)
        return page

    def _children(self, path: bytes, start: int, count: int) -> list[tuple[Entry, int, int]]:
        out: list[tuple[Entry, int, int]] = []
        while count > 0:
            number, skip = divmod(start, PAGE)
            page = self._page(path, number)[skip : skip + count]
            if not page:
                break
            out += page
            start += len(page)
            count -= len(page)
        return out

    def _row(self, entry: Entry, children: int, nbytes: int, depth: int) -> Row:
        return Row(entry, depth, entry.path in self._open, children, nbytes,
                   self.selection.mark(entry.path))

    def _root_row(self) -> Row:
        children = self.catalog.children_count(self.fs, b"/")
        nbytes = self.catalog.totals(self.fs, b"/").bytes
        return self._row(self._root_entry, children, nbytes, 0)

    def rows(self, start: int, count: int) -> list[Row]:
        """Rows start .. start + count - 1 (fewer at the end of the tree)."""
        out: list[Row] = []
        if count <= 0 or start >= self.height:
            return out
        if start == 0:
            out.append(self._root_row())
            count -= 1
        root = self._open.get(b"/")
        if root is not None and count > 0:
            self._emit(root, 1, max(0, start - 1), len(out) + count, out)
        return out

    def _emit(self, node: _Open, depth: int, skip: int, limit: int, out: list[Row]) -> int:
        """Appends rows below node, skipping the first `skip`, until out holds `limit` rows;
        returns how many of the skipped rows are still to skip (when node had too few)."""
        next_child = 0
        for kid in node.kids + [None]:
            end = kid.index + 1 if kid is not None else node.children
            run = end - next_child
            if skip < run:
                take = min(run - skip, limit - len(out))
                for entry, children, nbytes in self._children(node.path, next_child + skip, take):
                    out.append(self._row(entry, children, nbytes, depth))
                skip = 0
            else:
                skip -= run
            if len(out) >= limit or kid is None:
                return skip
            if skip < kid.height:
                skip = self._emit(kid, depth + 1, skip, limit, out)
                if len(out) >= limit:
                    return 0
            else:
                skip -= kid.height
            next_child = kid.index + 1
        return skip

    def row(self, y: int) -> Row | None:
        rows = self.rows(y, 1)
        return rows[0] if rows else None

    # ---- where rows are ----

    def _locate(self, y: int) -> tuple[_Open, int]:
        """(open directory, child index) of row y > 0."""
        node = self._open[b"/"]
        r = y - 1  # position among the rows below node
        while True:
            extra = 0  # rows of the open kids passed so far
            for kid in node.kids:
                kid_row = kid.index + extra
                if r < kid_row:
                    return node, r - extra
                if r == kid_row:
                    return node, kid.index
                if r <= kid_row + kid.height:
                    node, r = kid, r - kid_row - 1
                    break
                extra += kid.height
            else:
                return node, r - extra

    def row_of(self, path: bytes) -> int | None:
        """The row showing path, if its directory is open all the way up."""
        if path == b"/":
            return 0
        node = self._open.get(path.rpartition(b"/")[0] or b"/")
        if node is None:
            return None
        index = self.catalog.position(self.fs, path)
        return self._row_of_child(node, index)

    def _row_of_child(self, node: _Open, index: int) -> int:
        y = self._row_of_node(node) + 1 + index
        for kid in node.kids:
            if kid.index >= index:
                break
            y += kid.height
        return y

    def _row_of_node(self, node: _Open) -> int:
        if node.parent is None:
            return 0
        return self._row_of_child(node.parent, node.index)

    def parent_row(self, y: int) -> int:
        """The row of row y's directory (0 for the root itself)."""
        if y <= 0:
            return 0
        node, _ = self._locate(y)
        return self._row_of_node(node)

    # ---- opening and closing ----

    def expand(self, y: int) -> bool:
        """Opens the directory at row y; False if it is not a directory or already open."""
        row = self.row(y)
        if row is None or not row.is_dir or row.expanded:
            return False
        self.expand_path(row.entry.path)
        return True

    def expand_path(self, path: bytes) -> None:
        """Opens path and every directory above it."""
        chain = [path, *ancestors(path)] if path != b"/" else [b"/"]
        for p in reversed(chain):
            if p in self._open:
                continue
            children = self.catalog.children_count(self.fs, p)
            if p == b"/":
                self._open[p] = _Open(p, 0, children, height=children)
                continue
            parent = self._open[p.rpartition(b"/")[0] or b"/"]
            node = _Open(p, self.catalog.position(self.fs, p), children, parent, height=children)
            position = bisect.bisect_left(parent.kid_indexes(), node.index)
            parent.kids.insert(position, node)
            self._open[p] = node
            self._grow(parent, children)

    def _grow(self, node: _Open | None, delta: int) -> None:
        while node is not None:
            node.height += delta
            node = node.parent

    def collapse(self, y: int) -> bool:
        """Closes the directory at row y; False if it is not an open directory."""
        row = self.row(y)
        if row is None or not row.expanded:
            return False
        self.collapse_path(row.entry.path)
        return True

    def collapse_path(self, path: bytes) -> None:
        node = self._open.get(path)
        if node is None:
            return
        if node.parent is None:  # the root: close it, but keep its record
            for kid in list(node.kids):
                self._forget(kid)
            node.kids.clear()
            node.height = 0
            del self._open[path]
            return
        node.parent.kids.remove(node)
        self._grow(node.parent, -(node.height))
        self._forget(node)

    def _forget(self, node: _Open) -> None:
        self._open.pop(node.path, None)
        for kid in node.kids:
            self._forget(kid)

    def toggle_expanded(self, y: int) -> bool:
        row = self.row(y)
        if row is None or not row.is_dir:
            return False
        if row.expanded:
            self.collapse(y)
        else:
            if y == 0:
                self.expand_path(b"/")
            else:
                self.expand(y)
        return True

    # ---- selection ----

    def toggle_selected(self, y: int) -> None:
        row = self.row(y)
        if row is not None:
            self.selection.toggle(row.entry.path)

    def totals(self) -> Totals:
        return self.selection.totals(self.catalog)

    def all_totals(self) -> Totals:
        return self.catalog.totals(self.fs, b"/")

    # ---- search ----

    def search(self, pattern: str) -> SearchState:
        """Finds entries matching pattern (see Catalog.search); jump with next_match."""
        matches, more = self.catalog.search(self.fs, pattern, SEARCH_LIMIT) if pattern else ([], False)
        self.search_state = SearchState(pattern, matches, more)
        return self.search_state

    def next_match(self, y: int, backwards: bool = False, include_current: bool = False) -> int | None:
        """Opens the way to the first match after row y (before it, backwards) and returns
        its row; wraps around; None without matches."""
        state = self.search_state
        if not state.matches:
            return None
        row = self.row(y)
        offset = row.entry.offset if row is not None else -1
        offsets = [m.offset for m in state.matches]
        if backwards:
            i = bisect.bisect_left(offsets, offset) - 1
            if include_current and i + 1 < len(offsets) and offsets[i + 1] == offset:
                i += 1
            i %= len(offsets)
        else:
            i = (bisect.bisect_left(offsets, offset) if include_current
                 else bisect.bisect_right(offsets, offset))
            i %= len(offsets)
        state.current = i
        return self.reveal(state.matches[i].path)

    def reveal(self, path: bytes) -> int | None:
        """Opens the directories above path and returns its row."""
        if path != b"/":
            self.expand_path(path.rpartition(b"/")[0] or b"/")
        return self.row_of(path)



def root_name(fs: Filesystem) -> str:
    """How the tree names a filesystem's root: its mount point, or fs-N:/ without one."""
    return fs.mountpoint if fs.mountpoint.startswith("/") else f"fs-{fs.id}:/"


class SetTrees:
    """The trees of every filesystem of a set that has a file list, one selection each; made
    lazily, kept while the picker switches between filesystems."""

    def __init__(self, backup_set: BackupSet, catalog: Catalog):
        self.backup_set = backup_set
        self.catalog = catalog
        self.filesystems = [fs for fs in backup_set.filesystems
                            if fs.archive is not None and fs.archive.kind == "tar"]
        self._trees: dict[int, TreeModel] = {}

    def tree(self, fs_id: int) -> TreeModel:
        model = self._trees.get(fs_id)
        if model is None:
            fs = self.backup_set.filesystem(fs_id)
            model = TreeModel(self.catalog, fs_id, root_name=root_name(fs))
            self._trees[fs_id] = model
        return model

    def selections(self) -> list[Selection]:
        """The selections that choose something."""
        return [t.selection for t in self._trees.values() if t.selection]

    def totals(self) -> Totals:
        total = Totals()
        for selection in self.selections():
            total = total + selection.totals(self.catalog)
        return total


__all__ = ["ALL", "NONE", "SOME", "Row", "SearchState", "SetTrees", "TreeModel"]
