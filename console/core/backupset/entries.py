"""What the catalog says of its members, and the picker's rows over them: plain data, no I/O.

The widgets take these; the modules that read the catalog (catalog.py, filetree.py,
selection.py) build them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

# How much of a directory is selected.
ALL, SOME, NONE = "all", "some", "none"


class Entry(NamedTuple):
    """One member of a filesystem as the catalog holds it. A named tuple, not a dataclass:
    a listing or a verify builds one per row, and a tuple is built at C speed."""

    fs: int
    path: bytes
    name: bytes
    kind: str
    size: int
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    link: bytes | None
    devmajor: int
    devminor: int
    blake3: bytes | None
    frame: int
    offset: int
    length: int


class Totals(NamedTuple):
    """What a part of the catalog holds: entries, those that are not directories, file bytes."""

    entries: int = 0
    files: int = 0
    bytes: int = 0

    def __add__(self, other):  # type: ignore[override]
        return Totals(self.entries + other.entries, self.files + other.files,
                      self.bytes + other.bytes)

    def __sub__(self, other):
        return Totals(self.entries - other.entries, self.files - other.files,
                      self.bytes - other.bytes)


@dataclass(frozen=True)
class Row:
    """One line of the tree."""

    entry: Entry
    depth: int  # 0 for the filesystem's root
    expanded: bool
    children: int  # direct children of a directory
    bytes: int  # a directory: file bytes below it; anything else: its size
    mark: str  # ALL, SOME or NONE
    path: bytes = b""  # where it is in the tree: /home/anna for /anna of the /home filesystem
    title: str = ""  # a top-level row: what it stands for (/, fs-5:/ ...) instead of its name

    @property
    def is_dir(self) -> bool:
        return self.entry.kind == "dir"


@dataclass
class SearchState:
    pattern: str = ""
    matches: list[Entry] = field(default_factory=list)  # in tree order
    paths: list[bytes] = field(default_factory=list)  # where each match is in the tree
    more: bool = False  # the search stopped at filetree.SEARCH_LIMIT matches
    current: int = -1  # index into matches of the last one jumped to
