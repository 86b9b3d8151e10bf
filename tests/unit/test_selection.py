"""Selection semantics against a brute-force model that keeps one flag per catalog entry.

Names are chosen so that siblings sort on both sides of "/" ("a", "a-b", "a.c", "a b", "a0"):
a subtree is not one contiguous range of paths, and the SQL must not be fooled by that.
"""

import itertools
import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.core.backupset.catalog import Catalog
from console.core.backupset.entries import ALL, NONE, SOME, Totals
from console.core.backupset.selection import Selection
from tests.catalogs import make_catalog, random_trees

NAMES = [b"a", b"a-b", b"a.c", b"a b", b"a0", b"b"]


def subtree(tree, path):
    return [p for p in tree if p == path or path == b"/" or p.startswith(path + b"/")]


def trees():
    """A random tree of depth <= 3; files carry sizes."""
    return random_trees(NAMES, ["file", "file", "symlink", "hardlink"], 4, 10_000)


class BruteForce:
    """One flag per entry; an operation sets every flag of the subtree."""

    def __init__(self, tree):
        self.tree = tree
        self.flags = {p: False for p in tree}

    def apply(self, op, path):
        below = subtree(self.tree, path)
        if op == "toggle":
            value = not all(self.flags[p] for p in below)
        else:
            value = op == "include"
        for p in below:
            self.flags[p] = value

    def mark(self, path):
        values = {self.flags[p] for p in subtree(self.tree, path)}
        return SOME if len(values) == 2 else (ALL if values == {True} else NONE)

    def totals(self):
        chosen = [p for p, flag in self.flags.items() if flag]
        return Totals(len(chosen), sum(self.tree[p][0] != "dir" for p in chosen),
                      sum(self.tree[p][1] for p in chosen if self.tree[p][0] == "file"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_selection_matches_brute_force(data):
    tree = data.draw(trees())
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "catalog.sqlite")
        full = make_catalog(path, tree)
        paths = sorted(full)
        ops = data.draw(st.lists(st.tuples(st.sampled_from(["include", "exclude", "toggle"]),
                                           st.sampled_from(paths)), max_size=12))
        selection, brute = Selection(1), BruteForce(full)
        for op, target in ops:
            getattr(selection, op)(target)
            brute.apply(op, target)
        with Catalog(path) as catalog:
            for p in paths:
                assert selection.is_selected(p) == brute.flags[p], (p, selection)
                assert selection.mark(p) == brute.mark(p), (p, selection)
            assert selection.totals(catalog) == brute.totals(), selection
            picked = [span.path for sql, params in selection.conditions()
                      for span in catalog.spans(1, sql, params)]
            assert sorted(picked) == sorted(p for p, flag in brute.flags.items() if flag)
            assert len(picked) == len(set(picked))  # top-level subtrees do not overlap
        assert bool(selection) == any(brute.flags.values())


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["include", "exclude", "toggle"]),
                              st.sampled_from([b"/", b"/a", b"/a/b", b"/a/b/c", b"/a-b",
                                               b"/a/b-c", b"/x"])), max_size=15))
def test_rules_stay_minimal(ops):
    """Every rule differs from the state its parent context gives; top-level rules include."""
    selection = Selection(1)
    for op, target in ops:
        getattr(selection, op)(target)
    rules = dict(selection.rules)
    for path, value in rules.items():
        context = False
        up = path
        while up != b"/":
            up = up.rpartition(b"/")[0] or b"/"
            if up in rules:
                context = rules[up]
                break
        assert value != context, (path, selection)


def test_nested_choices():
    selection = Selection(1)
    selection.include(b"/etc")
    selection.exclude(b"/etc/ssh")
    selection.include(b"/etc/ssh/sshd_config")
    assert selection.rules == [(b"/etc", True), (b"/etc/ssh", False),
                               (b"/etc/ssh/sshd_config", True)]
    assert selection.mark(b"/") == SOME
    assert selection.mark(b"/etc") == SOME
    assert selection.mark(b"/etc/ssh") == SOME
    assert selection.mark(b"/etc/passwd") == ALL
    assert selection.mark(b"/etc-old") == NONE
    selection.include(b"/etc")  # choosing the whole subtree again drops the rules inside it
    assert selection.rules == [(b"/etc", True)]
    selection.toggle(b"/etc")
    assert selection.rules == [] and not selection


def test_totals_use_the_catalog(tmp_path):
    path = tmp_path / "c.sqlite"
    make_catalog(str(path), {b"/etc/a": ("file", 10), b"/etc/b": ("file", 20),
                             b"/etc/sub/c": ("file", 40), b"/home/x": ("file", 80)})
    selection = Selection(1)
    selection.include(b"/")
    selection.exclude(b"/etc/sub")
    selection.exclude(b"/home/x")
    with Catalog(str(path)) as catalog:
        # /, /etc, /etc/a, /etc/b, /home
        assert selection.totals(catalog) == Totals(entries=5, files=2, bytes=30)


@pytest.mark.parametrize("count", [1, 50])
def test_many_single_files(tmp_path, count):
    tree = {b"/d/f%03d" % i: ("file", i) for i in range(100)}
    path = tmp_path / "c.sqlite"
    make_catalog(str(path), tree)
    selection = Selection(1)
    for i in itertools.islice(range(0, 100, 2), count):
        selection.include(b"/d/f%03d" % i)
    with Catalog(str(path)) as catalog:
        expected = list(range(0, 100, 2))[:count]
        assert selection.totals(catalog) == Totals(count, count, sum(expected))
        assert selection.mark(b"/d") == SOME
