"""catalog.sqlite: one row per archive member, indexed for listing, lookup and search.

Paths are bytes ("/" + the path inside its filesystem), so any name the source had survives.
`frame` and `offset` say where the member's first header starts: the seekable-zstd frame, and
the byte offset in the uncompressed tar stream.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterator

from .errors import RestoreError
from .tarscan import Member, parent_and_name

SCHEMA = """
CREATE TABLE IF NOT EXISTS members (
    id INTEGER PRIMARY KEY,
    fs INTEGER NOT NULL,
    path BLOB NOT NULL,
    parent BLOB NOT NULL,
    name BLOB NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    gid INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    link BLOB,
    devmajor INTEGER NOT NULL DEFAULT 0,
    devminor INTEGER NOT NULL DEFAULT 0,
    blake3 BLOB,
    frame INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL
);
"""
INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS members_path ON members (fs, path);
CREATE INDEX IF NOT EXISTS members_dir ON members (fs, parent, name);
"""
COLUMNS = ("fs", "path", "parent", "name", "kind", "size", "mode", "uid", "gid", "mtime_ns",
           "link", "devmajor", "devminor", "blake3", "frame", "offset", "length")


@dataclass(frozen=True)
class Entry:
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


_SELECT = ("SELECT fs, path, name, kind, size, mode, uid, gid, mtime_ns, link, devmajor, "
           "devminor, blake3, frame, offset, length FROM members")


class CatalogWriter:
    """Writes catalog rows on a thread of its own: the inserts of one filesystem overlap the
    unmount and the archive of the next one."""

    def __init__(self, path: str):
        if os.path.exists(path):
            os.unlink(path)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.executescript(SCHEMA)
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="catalog")
        self._pending: list[Future] = []

    def add(self, fs: int, members: list[Member], frame_of) -> None:
        self._pending.append(self._worker.submit(self._insert, fs, members, frame_of))

    def _insert(self, fs: int, members: list[Member], frame_of) -> None:
        rows = []
        for m in members:
            parent, name = parent_and_name(m.path)
            rows.append((fs, m.path, parent, name, m.kind, m.size, m.mode, m.uid, m.gid,
                         m.mtime_ns, m.link, m.devmajor, m.devminor, m.blake3,
                         frame_of(m.offset), m.offset, m.length))
        self._db.executemany(
            f"INSERT INTO members ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            rows)

    def close(self) -> None:
        try:
            for future in self._pending:
                future.result()  # an insert's failure surfaces here
        finally:
            self._worker.shutdown(wait=True)
        self._db.executescript(INDEXES)
        self._db.commit()
        self._db.execute("ANALYZE")
        self._db.close()


class Catalog:
    """Read-only queries on a set's catalog."""

    def __init__(self, path: str):
        if not os.path.exists(path):
            raise RestoreError(f"The catalog {path} is missing.", "Use another copy of the set.")
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def _entries(self, sql: str, args: tuple) -> Iterator[Entry]:
        try:
            for row in self._db.execute(sql, args):
                yield Entry(*row)
        except sqlite3.DatabaseError as exc:
            raise RestoreError(f"The catalog cannot be read: {exc}.",
                               "Use another copy of the set.") from None

    def list_dir(self, fs: int, path: bytes) -> list[Entry]:
        return list(self._entries(_SELECT + " WHERE fs = ? AND parent = ? ORDER BY name",
                                  (fs, path)))

    def lookup(self, fs: int, path: bytes) -> Entry | None:
        return next(self._entries(_SELECT + " WHERE fs = ? AND path = ?", (fs, path)), None)

    def members(self, fs: int) -> Iterator[Entry]:
        return self._entries(_SELECT + " WHERE fs = ? ORDER BY offset", (fs,))

    def paths_overlapping(self, fs: int, start: int, end: int) -> list[bytes]:
        """Members whose bytes in the stream overlap [start, end)."""
        return [p for (p,) in self._db.execute(
            "SELECT path FROM members WHERE fs = ? AND offset < ? AND offset + length > ?"
            " ORDER BY offset", (fs, end, start))]

    def hashes_in_order(self, fs: int) -> Iterator[tuple[int, bytes | None]]:
        """(offset, BLAKE3) of every member, in stream order."""
        return iter(self._db.execute(
            "SELECT offset, blake3 FROM members WHERE fs = ? ORDER BY offset", (fs,)))

    def count(self, fs: int) -> int:
        return self._db.execute("SELECT count(*) FROM members WHERE fs = ?", (fs,)).fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
