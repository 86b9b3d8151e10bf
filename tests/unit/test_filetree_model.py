"""The tree model against a brute-force flattening of the same tree with the same open folders."""

import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.core.backupset.catalog import Catalog
from console.core.backupset.entries import ALL, NONE, SOME
from console.core.backupset.filetree import TreeModel
from tests.catalogs import make_catalog, random_trees

NAMES = [b"a", b"a-b", b"a.c", b"b", b"c"]


def trees():
    return random_trees(NAMES, ["file"], 5, 1000)


def flatten(full, opened):
    """(path, depth) of every visible row, computed the obvious way."""
    rows = [(b"/", 0)]

    def walk(directory, depth):
        kids = sorted(p for p in full if p != b"/" and (p.rpartition(b"/")[0] or b"/") == directory)
        for kid in kids:
            rows.append((kid, depth))
            if kid in opened:
                walk(kid, depth + 1)

    if b"/" in opened:
        walk(b"/", 1)
    return rows


def visible_open(full, opened):
    """Opened directories whose ancestors are all open too (what the tree shows as open)."""
    result = set()
    for path in opened:
        up, ok = path, True
        while up != b"/":
            up = up.rpartition(b"/")[0] or b"/"
            ok = ok and up in opened
        if ok:
            result.add(path)
    return result


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_rows_match_the_flattened_tree(data):
    tree = data.draw(trees())
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "catalog.sqlite")
        full = make_catalog(path, tree)
        dirs = sorted(p for p, (kind, _) in full.items() if kind == "dir")
        with Catalog(path) as catalog:
            model = TreeModel(catalog, 1)
            opened = {b"/"}
            ops = data.draw(st.lists(st.tuples(st.sampled_from(["open", "close"]),
                                               st.sampled_from(dirs)), max_size=10))
            for op, target in ops:
                if op == "open":
                    model.expand_path(target)
                    up = target
                    opened.add(up)
                    while up != b"/":
                        up = up.rpartition(b"/")[0] or b"/"
                        opened.add(up)
                else:
                    model.collapse_path(target)
                    opened = {p for p in opened
                              if not (p == target or target == b"/" or p.startswith(target + b"/"))}
                opened = visible_open(full, opened)
                expected = flatten(full, opened)
                assert model.height == len(expected)
                rows = model.rows(0, model.height + 5)
                assert [(r.entry.path, r.depth) for r in rows] == expected
                assert all(r.expanded == (r.entry.path in opened) for r in rows)
                # Any window is the same slice; parents and positions agree with the rows.
                start = data.draw(st.integers(0, len(expected)))
                count = data.draw(st.integers(0, 7))
                window = model.rows(start, count)
                assert [(r.entry.path, r.depth) for r in window] == expected[start : start + count]
                for y, (p, depth) in enumerate(expected):
                    assert model.row_of(p) == y
                    parent = p.rpartition(b"/")[0] or b"/"
                    assert model.parent_row(y) == (0 if y == 0 else model.row_of(parent))


def test_marks_follow_the_selection(tmp_path):
    path = tmp_path / "c.sqlite"
    make_catalog(str(path), {b"/etc/a": ("file", 1), b"/etc/b": ("file", 2), b"/var/x": ("file", 3)})
    with Catalog(str(path)) as catalog:
        model = TreeModel(catalog, 1)
        model.expand_path(b"/etc")
        rows = {r.entry.path: r for r in model.rows(0, 10)}
        assert rows[b"/etc"].mark == NONE and rows[b"/etc"].children == 2
        model.toggle_selected(model.row_of(b"/etc/a"))
        rows = {r.entry.path: r for r in model.rows(0, 10)}
        assert rows[b"/etc/a"].mark == ALL and rows[b"/etc"].mark == SOME and rows[b"/"].mark == SOME
        assert model.totals().entries == 1 and model.totals().bytes == 1
        model.toggle_selected(0)
        assert model.totals() == model.all_totals()


def test_search_jumps_in_tree_order_and_opens_the_way(tmp_path):
    path = tmp_path / "c.sqlite"
    make_catalog(str(path), {b"/a/deep/notes.txt": ("file", 1), b"/b/notes.txt": ("file", 1),
                             b"/c/other": ("file", 1), b"/notes.txt": ("file", 1)})
    with Catalog(str(path)) as catalog:
        model = TreeModel(catalog, 1)
        state = model.search("notes")
        assert [m.path for m in state.matches] == [b"/a/deep/notes.txt", b"/b/notes.txt",
                                                   b"/notes.txt"]
        y = model.next_match(0)
        assert model.row(y).entry.path == b"/a/deep/notes.txt"
        assert model.is_open(b"/a/deep")
        y = model.next_match(y)
        assert model.row(y).entry.path == b"/b/notes.txt"
        y = model.next_match(y)
        assert model.row(y).entry.path == b"/notes.txt"
        y = model.next_match(y)  # wraps around
        assert model.row(y).entry.path == b"/a/deep/notes.txt"
        y = model.next_match(y, backwards=True)
        assert model.row(y).entry.path == b"/notes.txt"
        assert model.search("nothing").matches == [] and model.next_match(0) is None


def test_a_large_directory_is_paged(tmp_path):
    path = tmp_path / "c.sqlite"
    make_catalog(str(path), {b"/big/f%05d" % i: ("file", i) for i in range(1000)})
    with Catalog(str(path)) as catalog:
        model = TreeModel(catalog, 1)
        model.expand(1)
        assert model.height == 1002
        rows = model.rows(900, 5)
        assert [r.entry.name for r in rows] == [b"f%05d" % i for i in range(898, 903)]
        assert len(model._pages) <= 2  # only the pages around the window were read
