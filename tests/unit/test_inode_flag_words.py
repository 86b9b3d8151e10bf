"""Inode flags in words (lsattr's letters), in the catalog (old catalogs hold none), and in the
question a partial restore asks before replacing immutable files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from console.core.applying import differences as said
from console.core.applying.existing import Existing
from console.core.backupset.catalog import Catalog, CatalogWriter
from console.core.backupset.inodeflags import KEPT, letters
from console.core.backupset.tarscan import Member

EXTENTS, INLINE_DATA, NOCOW = 0x80000, 0x10000000, 0x800000


def test_flags_are_said_in_lsattr_letters_and_order():
    assert letters(0x10 | 0x20) == "ia"
    assert letters(0x40 | 0x80 | 0x20) == "adA"
    assert letters(0) == "-"
    assert said.flags(letters(0x10), letters(0x30)) == "flags i on disk, ia in the set"


def test_the_filesystems_own_flags_are_neither_kept_nor_said():
    for internal in (EXTENTS, INLINE_DATA, NOCOW):
        assert not internal & KEPT
        assert letters(internal) == "-"


def member(path: bytes, kind: str, offset: int) -> Member:
    return Member(path=path, kind=kind, size=0, mode=0o644, uid=0, gid=0, mtime_ns=0,
                  link=None, devmajor=0, devminor=0, offset=offset, length=512)


def test_the_catalog_gives_the_flagged_members_in_stream_order(tmp_path: Path):
    path = tmp_path / "catalog.sqlite"
    writer = CatalogWriter(str(path))
    writer.add(1, [member(b"/", "dir", 0), member(b"/etc", "dir", 512),
                   member(b"/etc/resolv.conf", "file", 1024), member(b"/log", "file", 1536)],
               lambda offset: 0, {b"/etc/resolv.conf": 0x10, b"/log": 0x20 | 0x40})
    writer.close()
    with Catalog(str(path)) as catalog:
        assert catalog.flagged(1) == [(b"/etc/resolv.conf", 0x10), (b"/log", 0x60)]
        assert catalog.flagged(1, "path = ?", [b"/log"]) == [(b"/log", 0x60)]
        assert catalog.flagged(2) == []


def test_a_catalog_written_before_the_flags_column_holds_no_flags(tmp_path: Path):
    path = tmp_path / "catalog.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE members (id INTEGER PRIMARY KEY, fs INTEGER, path BLOB)")
    db.execute("INSERT INTO members (fs, path) VALUES (1, x'2f')")
    db.commit()
    db.close()
    with Catalog(str(path)) as catalog:
        assert catalog.flagged(1) == []


def test_replacing_immutable_files_is_said_with_their_names():
    found = Existing(entries=2, bytes=30, paths=["/into/etc/resolv.conf", "/into/etc/hosts"],
                     locked=1, locked_paths=["/into/etc/resolv.conf"])
    assert found.words("overwrite") == (
        "2 existing files (30 Bytes) would be replaced: /into/etc/resolv.conf, /into/etc/hosts."
        " 1 entry immutable or append-only (/into/etc/resolv.conf): the restore takes the flag"
        " off, replaces it and sets the set's flags.")
    assert "immutable" not in found.words("skip")
    assert Existing(entries=1, paths=["/a"]).locked_words() == ""
