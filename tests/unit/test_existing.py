"""What a restore of selected files would replace, found before anything is written: counted on
a real directory against a synthetic catalog."""

from __future__ import annotations

import os

from console.core.applying.existing import SHOWN_PATHS, Existing, existing_at
from console.core.backupset.catalog import Catalog
from console.core.backupset.selection import Selection
from tests.catalogs import MTIME_NS, make_catalog

TREE = {b"/etc/hostname": ("file", 12), b"/etc/passwd": ("file", 1234),
        b"/etc/ssh/sshd_config": ("file", 3210), b"/etc/motd": ("symlink", 0),
        b"/srv/www/index.html": ("file", 512)}


def catalog_of(tmp_path) -> Catalog:
    make_catalog(str(tmp_path / "catalog.sqlite"), TREE, links={b"/etc/motd": b"issue"})
    return Catalog(str(tmp_path / "catalog.sqlite"))


def test_only_what_would_be_written_over_counts_with_its_size_and_path(tmp_path):
    dest = tmp_path / "dest"
    (dest / "etc/ssh").mkdir(parents=True)  # directories merge: not replaced
    (dest / "etc/hostname").write_bytes(b"edited-host\n" * 2)  # 24 bytes
    (dest / "etc/unrelated").write_bytes(b"not in the set")
    os.symlink("elsewhere", dest / "etc/motd")
    selection = Selection(1)
    selection.include(b"/etc")
    with catalog_of(tmp_path) as catalog:
        found = existing_at(catalog, selection, str(dest), str(dest))
    assert (found.entries, found.bytes) == (2, 24)
    assert found.paths == [f"{dest}/etc/hostname", f"{dest}/etc/motd"]


def test_files_newer_than_the_sets_copy_are_told_apart_for_keep_newer(tmp_path):
    dest = tmp_path / "dest"
    (dest / "etc").mkdir(parents=True)
    (dest / "etc/hostname").write_bytes(b"newer-host\n")  # 11 bytes, written now: newer
    (dest / "etc/passwd").write_bytes(b"old")
    os.utime(dest / "etc/passwd", ns=(MTIME_NS - 10**9, MTIME_NS - 10**9))
    selection = Selection(1)
    selection.include(b"/etc/hostname")
    selection.include(b"/etc/passwd")
    with catalog_of(tmp_path) as catalog:
        found = existing_at(catalog, selection, str(dest), "/")
    assert found.paths == ["/etc/hostname", "/etc/passwd"]  # shown as on the machine
    assert found.replaced("overwrite") == (2, 14)
    assert found.replaced("newer") == (1, 3)
    assert found.replaced("skip") == (0, 0)


def test_a_file_where_the_set_has_a_directory_is_replaced_and_an_absent_tree_is_nothing(
        tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "etc").write_bytes(b"a file, not a directory")
    selection = Selection(1)
    selection.include(b"/")
    with catalog_of(tmp_path) as catalog:
        found = existing_at(catalog, selection, str(dest), str(dest))
        assert (found.entries, found.paths) == (1, [f"{dest}/etc"])
        assert existing_at(catalog, selection, str(tmp_path / "nowhere"), "/") == Existing()


def test_the_words_say_how_many_how_large_and_which():
    found = Existing(entries=7, bytes=3 * 1024, newer=2, newer_bytes=1024,
                     paths=[f"/r/f{i}" for i in range(SHOWN_PATHS)])
    assert found.words("overwrite") == ("7 existing files (3.0 KiB) would be replaced: "
                                        "/r/f0, /r/f1, /r/f2, /r/f3, /r/f4 and 2 more.")
    assert found.words("newer").startswith("5 existing files (2.0 KiB) would be replaced "
                                           "(2 newer files kept): /r/f0")
    one = Existing(entries=1, bytes=12, paths=["/etc/hostname"])
    assert one.words("overwrite") == "1 existing file (12 Bytes) would be replaced: /etc/hostname."
