"""What is on the disk and not in the set (extras): found by a walk of a real tree held against
its catalog, each said once (an extra directory, not what it holds), nothing the backup leaves
out by rule or the restore makes itself; listed in words up to a limit."""

from __future__ import annotations

import os
import socket

import pytest

from console.core.applying import differences as said
from console.core.applying.ondisk import (
    RESTORE_LOG_COPY,
    TreeOfFs,
    find_extras,
    identities,
)
from console.core.applying.verify import (
    Difference,
    VerifyResult,
    check_filesystem,
    listed,
)
from console.core.backupset.catalog import Catalog
from console.core.events import Progress
from console.core.layout import Filesystem
from tests.unit.treecatalog import catalogue


@pytest.fixture
def catalogued(tmp_path):
    """A tree made into a catalog, as the backup makes one: lost+found, /var/log, /srv."""
    tree = tmp_path / "tree"
    for directory in ("etc", "var/log", "srv/www", "lost+found"):
        (tree / directory).mkdir(parents=True)
    (tree / "etc/passwd").write_bytes(b"root:x:0:0\n")
    (tree / "srv/www/index.html").write_bytes(b"<h1>hi</h1>\n")
    catalogue(tree, tmp_path / "catalog.sqlite")
    return tree, str(tmp_path / "catalog.sqlite")


def extras_of(tree, catalog_path, mountpoint="/", covered=(), leave_out=frozenset()) -> list[str]:
    found = TreeOfFs.of(mountpoint, str(tree), set(covered))
    with Catalog(catalog_path) as catalog:
        return [found.shown(inner) for inner in find_extras(catalog, 1, found, leave_out)]


def test_a_tree_as_catalogued_has_no_extras(catalogued):
    assert extras_of(*catalogued) == []


def test_a_file_and_a_directory_added_are_each_said_once(catalogued):
    tree, catalog_path = catalogued
    (tree / "etc/added.conf").write_bytes(b"x\n")
    (tree / "srv/www/new/deeper").mkdir(parents=True)
    (tree / "srv/www/new/deeper/page.html").write_bytes(b"<p>\n")
    assert extras_of(tree, catalog_path) == ["/etc/added.conf", "/srv/www/new"]


def test_extras_are_said_with_the_original_mount_point(catalogued):
    tree, catalog_path = catalogued
    (tree / "etc/added.conf").write_bytes(b"x\n")
    assert extras_of(tree, catalog_path, mountpoint="/home") == ["/home/etc/added.conf"]


def test_the_comparison_of_a_filesystem_reports_extras_in_words(catalogued):
    tree, catalog_path = catalogued
    etc = os.stat(tree / "etc")
    (tree / "etc/added.conf").write_bytes(b"x\n")
    os.utime(tree / "etc", ns=(etc.st_atime_ns, etc.st_mtime_ns))  # a difference of its own
    fs = Filesystem(id=1, disk="/dev/sda", partition=1, device="/dev/sda1", type="ext4",
                    mountpoint="/")
    result = VerifyResult()
    with Catalog(catalog_path) as catalog:
        check_filesystem(catalog, fs, str(tree), {"/"}, result, Progress("Verifying"),
                         content=False)
    assert [(d.path, d.what) for d in result.differences] == [
        ("/etc/added.conf", "extra: on disk, not in the set")]
    assert not result.ok and len(result.extras) == 1


def test_sockets_are_not_extra_tar_never_archives_them(catalogued):
    tree, catalog_path = catalogued
    listening = socket.socket(socket.AF_UNIX)
    try:
        listening.bind(str(tree / "srv/control.sock"))
        assert extras_of(tree, catalog_path) == []
    finally:
        listening.close()


def test_lost_and_found_at_the_root_is_mkfs_s_own(tmp_path):
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    catalogue(tree, tmp_path / "catalog.sqlite")  # a source without lost+found
    (tree / "lost+found").mkdir()
    (tree / "etc/lost+found").mkdir()  # anywhere else it is a directory like another
    assert extras_of(tree, str(tmp_path / "catalog.sqlite")) == ["/etc/lost+found"]


def test_the_restore_s_own_log_copy_is_not_extra(catalogued):
    tree, catalog_path = catalogued
    (tree / RESTORE_LOG_COPY.lstrip("/")).write_text("restored\n")
    (tree / "var/log/syslog").write_text("later\n")
    assert extras_of(tree, catalog_path) == ["/var/log/syslog"]


def test_the_set_itself_on_the_disk_is_not_extra(catalogued):
    tree, catalog_path = catalogued
    (tree / "srv/set").mkdir()
    (tree / "srv/other").mkdir()
    assert extras_of(tree, catalog_path, leave_out=identities([str(tree / "srv/set")])) == [
        "/srv/other"]


def test_filesystems_of_the_set_mounted_below_are_compared_on_their_own(catalogued):
    tree, catalog_path = catalogued
    (tree / "srv/www/new.html").write_bytes(b"<p>\n")
    (tree / "home/alice").mkdir(parents=True)  # made by the restore to mount /home/alice on
    (tree / "home/alice/notes").write_bytes(b"on /home/alice's own filesystem\n")
    (tree / "home/stray").write_bytes(b"on this one\n")
    assert extras_of(tree, catalog_path, covered={"/", "/srv/www", "/home/alice"}) == [
        "/home/stray"]


def test_a_missing_tree_has_no_extras(catalogued):
    tree, catalog_path = catalogued
    assert extras_of(tree / "not-there", catalog_path) == []


def test_extras_come_after_the_other_differences_and_past_twenty_are_counted():
    differences = [Difference(f"/tmp/extra-{i:02}", said.EXTRA) for i in range(25)]
    differences.insert(3, Difference("/etc/passwd", said.CONTENT))
    lines = listed(differences)
    assert lines[0] == "/etc/passwd: content differs (BLAKE3)"
    assert lines[1:21] == [f"/tmp/extra-{i:02}: extra: on disk, not in the set"
                           for i in range(20)]
    assert lines[21:] == ["and 5 more extra"]
    assert listed(differences[:21])[-1] == "/tmp/extra-19: extra: on disk, not in the set"
