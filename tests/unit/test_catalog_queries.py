"""Catalog queries of the file picker: pages of a directory, positions, subtree totals, search."""

import shutil
import sqlite3

import pytest

from console.core.backupset.catalog import Catalog
from console.core.backupset.entries import Totals
from tests.catalogs import make_catalog

TREE = {
    b"/etc/passwd": ("file", 100),
    b"/etc/ssh/sshd_config": ("file", 2000),
    b"/etc/ssh/ssh_config": ("file", 1500),
    b"/etc/ssh/moduli": ("file", 500_000),
    b"/etc-old/passwd": ("file", 90),
    b"/etc.d/x": ("file", 1),
    b"/home/anna/caf\xe9.txt": ("file", 7),
    b"/home/anna/100%_sure": ("file", 3),
    b"/home/anna/100x_sure": ("file", 3),
    b"/home/anna/link": ("symlink", 0),
    b"/home/anna/hard": ("hardlink", 0),
    b"/home/empty": ("dir", 0),
    b"/var/log/syslog": ("file", 4096),
    b"/var/log/Syslog.1": ("file", 4000),
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path = tmp_path_factory.mktemp("cat") / "catalog.sqlite"
    make_catalog(str(path), TREE)
    with Catalog(str(path)) as cat:
        yield cat


def names(entries):
    return [e.name for e in entries]


def test_directory_pages_are_slices_of_the_listing(catalog):
    whole = catalog.list_dir(1, b"/etc/ssh")
    assert names(whole) == [b"moduli", b"ssh_config", b"sshd_config"]
    assert names(catalog.list_dir(1, b"/etc/ssh", 1, 1)) == [b"ssh_config"]
    assert names(catalog.list_dir(1, b"/etc/ssh", 2, 10)) == [b"sshd_config"]
    assert catalog.list_dir(1, b"/etc/ssh", 5, 10) == []


def test_listing_with_totals(catalog):
    rows = {e.name: (children, nbytes) for e, children, nbytes in catalog.list_dir_totals(1, b"/")}
    assert rows[b"etc"] == (2, 100 + 2000 + 1500 + 500_000)
    assert rows[b"home"] == (2, 7 + 3 + 3)
    rows = {e.name: (children, nbytes) for e, children, nbytes in catalog.list_dir_totals(1, b"/etc")}
    assert rows[b"passwd"] == (0, 100)


def test_children_and_position(catalog):
    assert catalog.children_count(1, b"/") == 5  # etc, etc-old, etc.d, home, var
    assert catalog.children_count(1, b"/etc/ssh") == 3
    assert catalog.children_count(1, b"/etc/passwd") == 0
    assert catalog.children_count(1, b"/home/empty") == 0
    for i, entry in enumerate(catalog.list_dir(1, b"/")):
        assert catalog.position(1, entry.path) == i


def test_totals_count_the_subtree_itself_included(catalog):
    assert catalog.totals(1, b"/etc") == Totals(entries=6, files=4, bytes=503_600)
    assert catalog.totals(1, b"/etc/passwd") == Totals(1, 1, 100)
    assert catalog.totals(1, b"/home/anna/hard") == Totals(1, 1, 0)
    assert catalog.totals(1, b"/nowhere") == Totals()
    everything = catalog.totals(1, b"/")
    assert everything.entries == catalog.count(1)
    assert everything.bytes == sum(size for kind, size in TREE.values() if kind == "file")


def test_old_catalog_without_subtrees_gets_them_in_memory(tmp_path, catalog):
    path = tmp_path / "old.sqlite"
    make_catalog(str(path), TREE)
    db = sqlite3.connect(path)
    db.execute("DROP TABLE subtrees")
    db.commit()
    db.close()
    with Catalog(str(path)) as old:
        assert old.totals(1, b"/etc") == catalog.totals(1, b"/etc")
        assert old.children_count(1, b"/etc/ssh") == 3
    # Read-only: the file itself did not get the table.
    assert sqlite3.connect(path).execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'subtrees'").fetchone()[0] == 0


@pytest.mark.parametrize("pattern, found", [
    ("passwd", [b"/etc/passwd", b"/etc-old/passwd"]),
    ("SSH", [b"/etc/ssh", b"/etc/ssh/ssh_config", b"/etc/ssh/sshd_config"]),  # any case
    ("sshd_", [b"/etc/ssh/sshd_config"]),
    ("ssh_", [b"/etc/ssh/ssh_config"]),  # "_" is a character, not a wildcard
    ("100%", [b"/home/anna/100%_sure"]),  # "%" too
    ("*.txt", [b"/home/anna/caf\xe9.txt"]),  # glob, and a name that is not UTF-8
    ("[Ss]yslog*", [b"/var/log/Syslog.1", b"/var/log/syslog"]),
    ("syslog", [b"/var/log/Syslog.1", b"/var/log/syslog"]),
    ("/etc", [b"/etc", b"/etc/passwd", b"/etc/ssh", b"/etc/ssh/moduli", b"/etc/ssh/ssh_config",
              b"/etc/ssh/sshd_config", b"/etc-old", b"/etc-old/passwd", b"/etc.d", b"/etc.d/x"]),
    ("/etc/*/*config", [b"/etc/ssh/ssh_config", b"/etc/ssh/sshd_config"]),
    ("nothing-like-it", []),
])
def test_search(catalog, pattern, found):
    entries, more = catalog.search(1, pattern)
    assert sorted(e.path for e in entries) == sorted(found)
    assert not more
    offsets = [e.offset for e in entries]
    assert offsets == sorted(offsets)  # stream order, which is the tree's order


def test_search_stops_at_the_limit(catalog):
    entries, more = catalog.search(1, "s", limit=3)
    assert len(entries) == 3 and more
    everything, _ = catalog.search(1, "s")
    assert entries == everything[:3]


def test_catalog_copy_is_not_written(tmp_path, catalog):
    path = tmp_path / "c.sqlite"
    make_catalog(str(path), TREE)
    copy = tmp_path / "copy.sqlite"
    shutil.copy(path, copy)
    with Catalog(str(copy)) as cat:
        cat.search(1, "x")
        cat.totals(1, b"/")
    assert copy.read_bytes() == path.read_bytes()


@pytest.mark.parametrize("pattern, under, found", [
    ("passwd", b"/etc", [b"/etc/passwd"]),
    ("ssh", b"/etc", [b"/etc/ssh", b"/etc/ssh/ssh_config", b"/etc/ssh/sshd_config"]),
    ("ssh", b"/etc/ssh", [b"/etc/ssh/ssh_config", b"/etc/ssh/sshd_config"]),
    ("/etc", b"/etc", [b"/etc/passwd", b"/etc/ssh", b"/etc/ssh/moduli", b"/etc/ssh/ssh_config",
                       b"/etc/ssh/sshd_config"]),
    ("x", b"/etc", []),  # /etc.d/x sorts inside the range of /etc but is not below it
])
def test_search_below_a_directory(catalog, pattern, under, found):
    entries, _ = catalog.search(1, pattern, under=under)
    assert sorted(e.path for e in entries) == sorted(found)
