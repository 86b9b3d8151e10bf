"""Synthetic catalogs for tests: a tree given as paths, written with the real CatalogWriter.

Members get offsets in the order GNU tar --sort=name writes them (a directory, then its
entries by name, depth first), each 1024 bytes plus its size, so offsets and the tree's order
agree as they do in a real set.
"""

from __future__ import annotations

import hashlib

from hypothesis import strategies as st

from console.core.backupset.catalog import CatalogWriter
from console.core.backupset.tarscan import Member

MTIME_NS = 1_600_000_000_123_456_789  # September 2020: shown as a date, never "today"


def tree_order(paths) -> list[bytes]:
    return sorted(paths, key=lambda p: [] if p == b"/" else p.split(b"/")[1:])


def with_parents(tree: dict[bytes, tuple[str, int]]) -> dict[bytes, tuple[str, int]]:
    """The tree with every missing parent directory added (and the root)."""
    full = {b"/": ("dir", 0), **tree}
    for path in list(tree):
        while path != b"/":
            path = path.rpartition(b"/")[0] or b"/"
            full.setdefault(path, ("dir", 0))
    return full


def _members(tree: dict[bytes, tuple[str, int]], links: dict[bytes, bytes]) -> list[Member]:
    members = []
    offset = 0
    for p in tree_order(tree):
        kind, size = tree[p]
        digest = hashlib.blake2s(p).digest() if kind == "file" else None
        members.append(Member(p, kind, size, 0o755 if kind == "dir" else 0o644, 0, 0,
                              MTIME_NS, links.get(p), 0, 0, offset, 1024 + size, digest))
        offset += 1024 + size
    return members


def make_catalog(path: str, tree: dict[bytes, tuple[str, int]], fs: int = 1,
                 links: dict[bytes, bytes] | None = None) -> dict[bytes, tuple[str, int]]:
    """Writes a catalog of tree (path -> (kind, size)) for filesystem fs; returns the full tree.

    `links` gives hard links' and symlinks' targets.
    """
    return make_set_catalog(path, {fs: (tree, links or {})})[fs]


def make_set_catalog(path: str, filesystems: dict[int, tuple[dict, dict]]) -> dict[int, dict]:
    """A catalog of several filesystems: fs -> (tree, links); returns fs -> full tree."""
    writer = CatalogWriter(path)
    full = {}
    for fs, (tree, links) in filesystems.items():
        full[fs] = with_parents(tree)
        writer.add(fs, _members(full[fs], links), lambda o: o // (1 << 20))
    writer.close()
    return full


@st.composite
def random_trees(draw, names: list[bytes], kinds: list[str], max_children: int, max_size: int):
    """A random tree of depth <= 3 as {path: (kind, size)}; only files have a size."""
    tree = {}
    dirs = [b""]
    for depth in range(3):
        new_dirs = []
        for parent in dirs:
            for name in draw(st.lists(st.sampled_from(names), unique=True,
                                      max_size=max_children)):
                path = parent + b"/" + name
                if depth < 2 and draw(st.booleans()):
                    tree[path] = ("dir", 0)
                    new_dirs.append(path)
                else:
                    kind = draw(st.sampled_from(kinds))
                    tree[path] = (kind, draw(st.integers(0, max_size)) if kind == "file" else 0)
        dirs = new_dirs
    return tree
