"""catalog.sqlite: one row per archive member, indexed for listing, lookup and search.

Paths are bytes ("/" + the path inside its filesystem), so any name the source had survives.
`frame` and `offset` say where the member's first header starts: the seekable-zstd frame, and
the byte offset in the uncompressed tar stream.

The `subtrees` table holds, for every directory, what lies below it (entries, non-directory
entries, bytes of regular files) and how many direct children it has, so the size of a
selection and the length of a directory are lookups, never a walk. Catalogs written before the
table existed get it built in memory (a TEMP table) the first time it is needed.

Search is a scan of one column (names, or paths when the pattern holds a "/"): a million rows
take a fraction of a second, and an index would not help a substring anyway.
"""

from __future__ import annotations

import os
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterator, NamedTuple

from ..errors import RestoreError
from .entries import Entry, Totals
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
    length INTEGER NOT NULL,
    flags INTEGER NOT NULL DEFAULT 0
);
"""
INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS members_path ON members (fs, path);
CREATE INDEX IF NOT EXISTS members_dir ON members (fs, parent, name);
"""
SUBTREES = """
CREATE {temp}TABLE IF NOT EXISTS subtrees (
    fs INTEGER NOT NULL,
    path BLOB NOT NULL,
    children INTEGER NOT NULL,
    entries INTEGER NOT NULL,
    files INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (fs, path)
) WITHOUT ROWID
"""
COLUMNS = ("fs", "path", "parent", "name", "kind", "size", "mode", "uid", "gid", "mtime_ns",
           "link", "devmajor", "devminor", "blake3", "frame", "offset", "length", "flags")


_SELECT = ("SELECT fs, path, name, kind, size, mode, uid, gid, mtime_ns, link, devmajor, "
           "devminor, blake3, frame, offset, length FROM members")
GLOB_CHARS = "*?["


class Span(NamedTuple):
    """Where one member lies in the stream, and what restoring it needs to know."""

    path: bytes
    kind: str
    link: bytes | None
    offset: int
    length: int


def subtree_condition(path: bytes) -> tuple[str, list]:
    """SQL condition (on members.path) for path and everything below it, and its parameters.

    One range [path, path + "0") the (fs, path) index can walk ("/" sorts just before "0"),
    filtered to path itself and names under path + "/" ("path-x" falls in the range too).
    """
    if path == b"/":
        return "1", []
    return ("(path >= ? AND path < ? AND (path = ? OR substr(path, 1, ?) = ?))",
            [path, path + b"0", path, len(path) + 1, path + b"/"])


def build_subtrees(db: sqlite3.Connection, temp: bool = False) -> None:
    """Fills the subtrees table: direct counts per parent in SQL, then each directory's totals
    added to its parent's, deepest first (a loop over directories only)."""
    db.execute(SUBTREES.format(temp="TEMP " if temp else ""))
    table = "temp.subtrees" if temp else "main.subtrees"
    db.execute(f"DELETE FROM {table}")
    totals: dict[tuple[int, bytes], list[int]] = {}
    for fs, parent, count, files, size in db.execute(
            "SELECT fs, parent, count(*), sum(kind != 'dir'), sum(size) FROM members"
            " WHERE parent != x'' GROUP BY fs, parent"):
        totals[(fs, parent)] = [count, count, files, size]
    for fs, path in db.execute("SELECT fs, path FROM members WHERE kind = 'dir'"):
        totals.setdefault((fs, path), [0, 0, 0, 0])
    for fs, path in sorted(totals, key=lambda key: -key[1].count(b"/") if key[1] != b"/" else 1):
        if path == b"/":
            continue
        parent, _ = parent_and_name(path)
        mine = totals[(fs, path)]
        up = totals.setdefault((fs, parent), [0, 0, 0, 0])
        up[1] += mine[1]
        up[2] += mine[2]
        up[3] += mine[3]
    db.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?)",
                   ((fs, path, *values) for (fs, path), values in totals.items()))


def like_pattern(text: str) -> str:
    """A substring as a LIKE pattern: % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


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
        self._sealed = False

    def add(self, fs: int, members: list[Member], frame_of,
            flags: dict[bytes, int] | None = None) -> None:
        """The members of filesystem fs; `flags`: the inode flags of those that have any."""
        self._pending.append(self._worker.submit(self._insert, fs, members, frame_of,
                                                 flags or {}))

    def _insert(self, fs: int, members: list[Member], frame_of, flags: dict[bytes, int]
                ) -> None:
        rows = []
        for m in members:
            parent, name = parent_and_name(m.path)
            rows.append((fs, m.path, parent, name, m.kind, m.size, m.mode, m.uid, m.gid,
                         m.mtime_ns, m.link, m.devmajor, m.devminor, m.blake3,
                         frame_of(m.offset), m.offset, m.length, flags.get(m.path, 0)))
        self._db.executemany(
            f"INSERT INTO members ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            rows)

    def seal(self) -> None:
        """No more rows will come: the indexes and the subtree totals are built on the writer's
        thread, while the caller goes on (unmounting the last filesystem)."""
        if not self._sealed:
            self._sealed = True
            self._pending.append(self._worker.submit(self._finish))

    def _finish(self) -> None:
        self._db.executescript(INDEXES)
        build_subtrees(self._db)
        self._db.commit()
        self._db.execute("ANALYZE")

    def close(self) -> None:
        """Seals the catalog if that was not done, waits for the writer and closes the file."""
        self.seal()
        try:
            for future in self._pending:
                future.result()  # an insert's failure surfaces here
        finally:
            self._worker.shutdown(wait=True)
            self._db.close()


class Catalog:
    """Read-only queries on a set's catalog."""

    def __init__(self, path: str):
        if not os.path.exists(path):
            raise RestoreError(f"The catalog {path} is missing.", "Use another copy of the set.")
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self._subtrees_ready = False
        self._has_flags: bool | None = None

    def _subtrees(self) -> None:
        """Builds the subtrees table in memory for a catalog written before it existed."""
        if self._subtrees_ready:
            return
        try:
            found = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'subtrees'").fetchone()
            if found is None:
                build_subtrees(self._db, temp=True)
        except sqlite3.DatabaseError as exc:
            raise RestoreError(f"The catalog cannot be read: {exc}.",
                               "Use another copy of the set.") from None
        self._subtrees_ready = True

    def _query(self, sql: str, args: tuple | list) -> list[tuple]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise RestoreError(f"The catalog cannot be read: {exc}.",
                               "Use another copy of the set.") from None

    def _entries(self, sql: str, args: tuple | list) -> Iterator[Entry]:
        return self._rows(Entry, sql, args)

    def list_dir(self, fs: int, path: bytes, start: int = 0, count: int = -1) -> list[Entry]:
        """The entries of directory path sorted by name; `start` and `count` give one page."""
        return list(self._entries(
            _SELECT + " WHERE fs = ? AND parent = ? ORDER BY name LIMIT ? OFFSET ?",
            (fs, path, count, start)))

    def list_dir_totals(self, fs: int, path: bytes, start: int = 0,
                        count: int = -1) -> list[tuple[Entry, int, int]]:
        """Like list_dir, each entry with its direct children and the file bytes below it
        (for a file: 0 and its size). The page is cut before the join, so a page deep into a
        large directory costs an index walk, not a join per skipped row."""
        self._subtrees()
        sql = ("SELECT m.*, s.children, s.bytes FROM ("
               + _SELECT + " WHERE fs = ? AND parent = ? ORDER BY name LIMIT ? OFFSET ?) m"
               " LEFT JOIN subtrees s ON s.fs = m.fs AND s.path = m.path ORDER BY m.name")
        rows = []
        for row in self._query(sql, (fs, path, count, start)):
            entry = Entry._make(row[:16])
            rows.append((entry, row[16] or 0, row[17] if row[17] is not None else entry.size))
        return rows

    def child_kinds(self, fs: int, path: bytes) -> dict[bytes, str]:
        """name -> kind of each entry directly in directory path: what a walk of the disk
        holds a directory's listing against."""
        return dict(self._query("SELECT name, kind FROM members WHERE fs = ? AND parent = ?",
                                (fs, path)))

    def children_count(self, fs: int, path: bytes) -> int:
        """How many entries directory path holds directly (0 for anything else)."""
        self._subtrees()
        row = self._query("SELECT children FROM subtrees WHERE fs = ? AND path = ?", (fs, path))
        return row[0][0] if row else 0

    def position(self, fs: int, path: bytes) -> int:
        """Where path stands among its siblings in list_dir's order."""
        parent, name = parent_and_name(path)
        return self._query("SELECT count(*) FROM members WHERE fs = ? AND parent = ? AND name < ?",
                           (fs, parent, name))[0][0]

    def totals(self, fs: int, path: bytes) -> Totals:
        """path and everything below it; nothing if path is not in the catalog."""
        self._subtrees()
        row = self._query(
            "SELECT m.kind, m.size, s.entries, s.files, s.bytes FROM members m"
            " LEFT JOIN subtrees s ON s.fs = m.fs AND s.path = m.path"
            " WHERE m.fs = ? AND m.path = ?", (fs, path))
        if not row:
            return Totals()
        kind, size, entries, files, nbytes = row[0]
        return Totals(1 + (entries or 0), (kind != "dir") + (files or 0),
                      (size if kind == "file" else 0) + (nbytes or 0))

    def search(self, fs: int, pattern: str, limit: int = 10_000,
               under: bytes = b"/") -> tuple[list[Entry], bool]:
        """Entries below `under` whose name matches pattern, in stream order; (the first
        `limit`, whether there are more).

        A pattern with * ? or [ is a glob (case-sensitive, as in the shell), anything else a
        substring (ASCII letters in either case). A pattern holding "/" is matched against
        the whole path ("/" + the path inside the filesystem) instead of the name.
        """
        # The scan reads a covering index (names with their parents, or paths), far narrower
        # than the table; only the matches' rows are read afterwards. BLOBs are cast to TEXT
        # because SQLite's LIKE and GLOB see no match in a BLOB.
        column, index = ("path", "members_path") if "/" in pattern else ("name", "members_dir")
        if any(c in pattern for c in GLOB_CHARS):
            condition, arg = f"CAST({column} AS TEXT) GLOB ?", pattern
        else:
            condition, arg = (f"CAST({column} AS TEXT) LIKE ? ESCAPE '\\'",
                              like_pattern(pattern))
        where, params = f"fs = ? AND {condition}", [fs, arg]
        if under != b"/":  # strictly below `under`, on a column the scanned index holds
            inside, args = subtree_condition(under)
            if column == "name":
                where += " AND " + inside.replace("path", "parent")
                params += args
            else:
                where += f" AND {inside} AND path != ?"
                params += [*args, under]
        ids = [i for (i,) in self._query(
            f"SELECT id FROM members INDEXED BY {index} WHERE {where} ORDER BY id LIMIT ?",
            (*params, limit + 1))]
        found: list[Entry] = []
        for start in range(0, min(len(ids), limit), 500):
            chunk = ids[start : min(start + 500, limit)]
            found += self._entries(_SELECT + f" WHERE id IN ({', '.join('?' * len(chunk))})"
                                   " ORDER BY id", tuple(chunk))
        return found, len(ids) > limit

    def spans(self, fs: int, condition: str, params: list) -> Iterator[Span]:
        """(path, kind, link, offset, length) of the members meeting condition, by offset."""
        return self._rows(Span, "SELECT path, kind, link, offset, length FROM members"
                          f" WHERE fs = ? AND ({condition}) ORDER BY offset", [fs, *params])

    def entries_where(self, fs: int, condition: str, params: list) -> Iterator[Entry]:
        """The members meeting condition, by offset."""
        return self._entries(_SELECT + f" WHERE fs = ? AND ({condition}) ORDER BY offset",
                             (fs, *params))

    def _rows(self, kind, sql: str, args: tuple | list) -> Iterator:
        """Rows of the query as `kind` objects; a damaged catalog is said in words."""
        try:
            yield from map(kind._make, self._db.execute(sql, args))
        except sqlite3.DatabaseError as exc:
            raise RestoreError(f"The catalog cannot be read: {exc}.",
                               "Use another copy of the set.") from None

    def lookup(self, fs: int, path: bytes) -> Entry | None:
        return next(self._entries(_SELECT + " WHERE fs = ? AND path = ?", (fs, path)), None)

    def members(self, fs: int) -> Iterator[Entry]:
        return self._entries(_SELECT + " WHERE fs = ? ORDER BY offset", (fs,))

    def paths_overlapping(self, fs: int, start: int, end: int) -> list[bytes]:
        """Members whose bytes in the stream overlap [start, end)."""
        return [p for (p,) in self._db.execute(
            "SELECT path FROM members WHERE fs = ? AND offset < ? AND offset + length > ?"
            " ORDER BY offset", (fs, end, start))]

    def metadata(self, fs: int) -> Iterator[tuple[bytes, str, int, int, int, int, int]]:
        """(path, kind, mode, uid, gid, mtime_ns, size) of every member, in the order the rows
        were written (the stream's): what the verify compares first, as plain tuples."""
        return iter(self._db.execute(
            "SELECT path, kind, mode, uid, gid, mtime_ns, size FROM members WHERE fs = ?",
            (fs,)))

    def flagged(self, fs: int, condition: str = "1", params: list | None = None
                ) -> list[tuple[bytes, int]]:
        """(path, inode flags) of the members meeting condition that have flags, by offset.
        A catalog written before the flags column holds none."""
        if self._has_flags is None:
            self._has_flags = any(row[1] == "flags" for row in self._query(
                "PRAGMA table_info(members)", ()))
        if not self._has_flags:
            return []
        return self._query("SELECT path, flags FROM members WHERE fs = ? AND flags != 0"
                           f" AND ({condition}) ORDER BY offset", [fs, *(params or [])])

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
