"""The file picker's tree, as data: which directories are open, and what row y shows.

Nothing is loaded per file. An open directory knows how many children it has (one lookup in
the catalog's subtrees table) and which of its children are open; row y is found by walking
down the open directories, and the rows on screen are read from the catalog a page at a time.
Opening a directory of 100,000 entries costs the same as opening one of ten.

A tree starts at one filesystem's root and can hold others mounted in it, as on the machine:
the /home filesystem's root is the /home directory of the / filesystem's tree, and its
entries are that directory's children. Paths here are the tree's (/home/anna); each is read
from the filesystem it is on (/anna of the /home filesystem), and each filesystem keeps its
own selection.

Rows are in the tree's order: a directory, then its children by name, each followed by its own
open subtree; so comparing paths component by component orders them as the rows are.
"""

from __future__ import annotations

import bisect
import collections
from dataclasses import dataclass, field

from ..errors import RestoreError
from .catalog import Catalog
from .entries import ALL, NONE, SOME, Entry, Row, SearchState, Totals
from .selection import Selection, ancestors

PAGE = 128
CACHED_PAGES = 64
SEARCH_LIMIT = 1000


def tree_key(path: bytes) -> list[bytes]:
    """Sorts paths in the tree's order: a directory, then what is below it, by name."""
    return [] if path == b"/" else path.split(b"/")[1:]


def parent_of(path: bytes) -> bytes:
    return path.rpartition(b"/")[0] or b"/"


def joined(directory: bytes, name: bytes) -> bytes:
    return (b"" if directory == b"/" else directory) + b"/" + name


@dataclass
class _Open:
    """An open directory: its children count and its open children, by position."""

    path: bytes  # in the tree
    index: int  # position among its parent's children (0 for the root)
    children: int
    parent: "_Open | None" = None
    kids: list["_Open"] = field(default_factory=list)  # sorted by index
    height: int = 0  # rows below this directory's own row

    def kid_indexes(self) -> list[int]:
        return [k.index for k in self.kids]


def next_index(keys: list, key, backwards: bool, include_current: bool) -> int:
    """Index of the first of the sorted keys after key (before it, backwards; key itself too
    with include_current), wrapping around."""
    if backwards:
        i = bisect.bisect_left(keys, key) - 1
        if include_current and i + 1 < len(keys) and keys[i + 1] == key:
            i += 1
    else:
        i = bisect.bisect_left(keys, key) if include_current else bisect.bisect_right(keys, key)
    return i % len(keys)


class TreeModel:
    """The tree of one filesystem of a set, and of those mounted in it, with their selections.

    `mounts`: directory of the tree -> the filesystem mounted there (its root is that
    directory). `base`: what the tree's paths are shown under (Row.path, SearchState.paths):
    "" for the machine's /, the mount point of a filesystem shown on its own, "fs-5:"."""

    def __init__(self, catalog: Catalog, fs: int, selection: Selection | None = None,
                 root_name: str = "/", *, mounts: dict[bytes, int] | None = None,
                 selections: dict[int, Selection] | None = None, base: bytes = b""):
        self.catalog = catalog
        self.fs = fs
        self.mounts = dict(mounts or {})
        self.selections = selections if selections is not None else {}
        if selection is not None:
            self.selections[fs] = selection
        for each in (fs, *self.mounts.values()):
            self.selections.setdefault(each, Selection(each))
        self.selection = self.selections[fs]
        self.root_name = root_name
        self.base = base
        root = catalog.lookup(fs, b"/")
        if root is None:
            raise RestoreError(f"The catalog has no root directory for filesystem {fs}.",
                               "The set is damaged; use another copy of the set.")
        self._root_entry = root
        # The mount points sorted longest first: the first that holds a path is its filesystem.
        self._points = sorted(self.mounts, key=len, reverse=True)
        # Directories above mount points: the filesystems mounted somewhere below each.
        self._mounted_below: dict[bytes, list[int]] = {}
        for point, mounted in self.mounts.items():
            for up in ancestors(point):
                self._mounted_below.setdefault(up, []).append(mounted)
        self._root_bytes = {each: catalog.totals(each, b"/").bytes
                            for each in (fs, *self.mounts.values())}
        self._open: dict[bytes, _Open] = {}
        self._pages: collections.OrderedDict = collections.OrderedDict()
        self.search_state = SearchState()
        self._match_paths: list[bytes] = []  # the matches' tree paths, in the tree's order
        self.expand_path(b"/")

    # ---- where a path of the tree is in the catalog ----

    def locate(self, path: bytes) -> tuple[int, bytes]:
        """(filesystem, path inside it) of a path of the tree."""
        for point in self._points:
            if path == point:
                return self.mounts[point], b"/"
            if path.startswith(point + b"/"):
                return self.mounts[point], path[len(point):]
        return self.fs, path

    def _listed_at(self, path: bytes) -> tuple[int, bytes]:
        """(filesystem, path) of the entry that lists path among its parent's children: for a
        mount point, the directory of the filesystem below it."""
        if path == b"/":
            return self.fs, b"/"
        fs, directory = self.locate(parent_of(path))
        return fs, joined(directory, path.rpartition(b"/")[2])

    def shown(self, path: bytes) -> bytes:
        """path as the rows name it (Row.path): under the tree's base."""
        if not self.base:
            return path
        if path == b"/" and not self.base.endswith(b":"):
            return self.base  # a mount point shown on its own: /srv/data
        return self.base + path  # fs-5:/, /srv/data/www

    # ---- shape ----

    @property
    def height(self) -> int:
        """Rows in the tree: the root and everything open below it."""
        root = self._open.get(b"/")
        return 1 + (root.height if root else 0)

    def is_open(self, path: bytes) -> bool:
        return path in self._open

    def _page(self, fs: int, path: bytes, number: int) -> list[tuple[Entry, int, int]]:
        key = (fs, path, number)
        page = self._pages.get(key)
        if page is None:
            page = self.catalog.list_dir_totals(fs, path, number * PAGE, PAGE)
            self._pages[key] = page
            if len(self._pages) > CACHED_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(key)
        return page

    def _children(self, path: bytes, start: int, count: int) -> list[tuple[Entry, int, int]]:
        fs, inner = self.locate(path)
        out: list[tuple[Entry, int, int]] = []
        while count > 0:
            number, skip = divmod(start, PAGE)
            page = self._page(fs, inner, number)[skip : skip + count]
            if not page:
                break
            out += page
            start += len(page)
            count -= len(page)
        return out

    def _children_count(self, path: bytes) -> int:
        return self.catalog.children_count(*self.locate(path))

    def _row(self, path: bytes, entry: Entry, children: int, nbytes: int, depth: int) -> Row:
        mounted = self.mounts.get(path)
        if mounted is not None:  # the directory shows the root of the filesystem mounted on it
            children = self.catalog.children_count(mounted, b"/")
            nbytes = self._root_bytes[mounted]
        nbytes += sum(self._root_bytes[each] for each in self._mounted_below.get(path, ()))
        return Row(entry, depth, path in self._open, children, nbytes, self.mark(path),
                   self.shown(path), self.root_name if depth == 0 else "")

    def _root_row(self) -> Row:
        children = self.catalog.children_count(self.fs, b"/")
        return self._row(b"/", self._root_entry, children, self._root_bytes[self.fs], 0)

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
                    out.append(self._row(joined(node.path, entry.name), entry, children, nbytes,
                                         depth))
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

    def path_of(self, y: int) -> bytes | None:
        """The tree's path of row y."""
        row = self.row(y)
        if row is None:
            return None
        return b"/" if y == 0 else self._tree_path(row)

    def _tree_path(self, row: Row) -> bytes:
        if not self.base:
            return row.path
        rest = row.path[len(self.base):]
        return rest or b"/"

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

    def _position(self, path: bytes) -> int:
        """Where path stands among its parent's children."""
        return self.catalog.position(*self._listed_at(path))

    def row_of(self, path: bytes) -> int | None:
        """The row showing path, if its directory is open all the way up."""
        if path == b"/":
            return 0
        node = self._open.get(parent_of(path))
        if node is None:
            return None
        return self._row_of_child(node, self._position(path))

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
        self.expand_path(self.path_of(y))
        return True

    def expand_path(self, path: bytes) -> None:
        """Opens path and every directory above it."""
        chain = [path, *ancestors(path)] if path != b"/" else [b"/"]
        for p in reversed(chain):
            if p in self._open:
                continue
            children = self._children_count(p)
            if p == b"/":
                self._open[p] = _Open(p, 0, children, height=children)
                continue
            parent = self._open[parent_of(p)]
            node = _Open(p, self._position(p), children, parent, height=children)
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
        self.collapse_path(self.path_of(y))
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
            self.expand_path(self.path_of(y))
        return True

    # ---- selection ----

    def mark(self, path: bytes) -> str:
        """ALL, SOME or NONE for path and everything below it, on every filesystem."""
        fs, inner = self.locate(path)
        mark = self.selections[fs].mark(inner)
        for mounted in self._mounted_below.get(path, ()):
            if self.selections[mounted].mark(b"/") != mark:
                return SOME
        return mark

    def toggle_selected(self, y: int) -> None:
        path = self.path_of(y)
        if path is None:
            return
        chosen = self.mark(path) != ALL
        fs, inner = self.locate(path)
        for selection, where in [(self.selections[fs], inner),
                                 *((self.selections[m], b"/")
                                   for m in self._mounted_below.get(path, ()))]:
            (selection.include if chosen else selection.exclude)(where)

    def filesystems(self) -> list[int]:
        """The filesystems this tree shows."""
        return [self.fs, *self.mounts.values()]

    def totals(self) -> Totals:
        total = Totals()
        for fs in self.filesystems():
            total = total + self.selections[fs].totals(self.catalog)
        return total

    def all_totals(self) -> Totals:
        total = Totals()
        for fs in self.filesystems():
            total = total + self.catalog.totals(fs, b"/")
        return total

    # ---- search ----

    def find(self, pattern: str) -> tuple[list[tuple[bytes, Entry]], bool]:
        """(tree path, entry) of the entries matching pattern (see Catalog.search) that the
        tree shows, in the tree's order; and whether a filesystem had more than
        SEARCH_LIMIT."""
        found: list[tuple[bytes, Entry]] = []
        more = False
        for fs in self.filesystems():
            point = next((p for p, m in self.mounts.items() if m == fs), b"")
            entries, cut = self.catalog.search(fs, pattern, SEARCH_LIMIT)
            more = more or cut
            for entry in entries:
                path = point + entry.path if entry.path != b"/" else (point or b"/")
                # Hidden: what a filesystem holds below a directory another one is mounted on.
                if path != b"/" and self.locate(parent_of(path))[0] == fs:
                    found.append((path, entry))
        found.sort(key=lambda match: tree_key(match[0]))
        return found, more

    def search(self, pattern: str) -> SearchState:
        """Finds entries matching pattern; jump to them with next_match."""
        found, more = self.find(pattern) if pattern else ([], False)
        self._match_paths = [path for path, _ in found]
        self.search_state = SearchState(pattern, [entry for _, entry in found],
                                        [self.shown(path) for path, _ in found], more)
        return self.search_state

    def next_match(self, y: int, backwards: bool = False, include_current: bool = False) -> int | None:
        """Opens the way to the first match after row y (before it, backwards) and returns
        its row; wraps around; None without matches."""
        state = self.search_state
        if not state.matches:
            return None
        here = self.path_of(y)
        keys = [tree_key(p) for p in self._match_paths]
        key = tree_key(here) if here is not None else []
        i = next_index(keys, key, backwards, include_current)
        state.current = i
        return self.reveal(self._match_paths[i])

    def reveal(self, path: bytes) -> int | None:
        """Opens the directories above path and returns its row."""
        if path != b"/":
            self.expand_path(parent_of(path))
        return self.row_of(path)


__all__ = ["ALL", "NONE", "SOME", "Row", "SearchState", "TreeModel"]
