"""The metadata pass of the verify (what a restore runs after extracting): a tree as catalogued
passes, and each kind of difference is found and said, whether the quick comparison or the
detailed one meets it."""

from __future__ import annotations

import os

import pytest

from console.core.applying.verify import VerifyResult, check_filesystem
from console.core.backupset.catalog import Catalog
from console.core.events import Progress
from console.core.layout import Filesystem
from tests.unit.treecatalog import catalogue


@pytest.fixture
def catalogued(tmp_path):
    tree = tmp_path / "tree"
    (tree / "etc" / "empty").mkdir(parents=True)
    (tree / "etc" / "passwd").write_bytes(b"root:x:0:0\n")
    (tree / "etc" / "shadow").write_bytes(b"secret\n")
    os.chmod(tree / "etc" / "shadow", 0o640)
    os.symlink("passwd", tree / "etc" / "link")
    os.link(tree / "etc" / "passwd", tree / "etc" / "zz-hard")
    os.mkfifo(tree / "etc" / "fifo")
    catalogue(tree, tmp_path / "catalog.sqlite")
    return tree, tmp_path / "catalog.sqlite"


def differences(tree, catalog_path) -> dict[str, list[str]]:
    fs = Filesystem(id=1, disk="/dev/sda", partition=1, device="/dev/sda1", type="ext4",
                    mountpoint="/")
    result = VerifyResult()
    with Catalog(str(catalog_path)) as catalog:
        check_filesystem(catalog, fs, str(tree), set(), result, Progress("Verifying"),
                         content=False)
    assert result.checked == 8  # /, /etc and its six
    found: dict[str, list[str]] = {}
    for difference in result.differences:
        found.setdefault(difference.path, []).append(difference.what)
    return found


def test_a_tree_as_catalogued_passes(catalogued):
    assert differences(*catalogued) == {}


def test_every_kind_of_difference_is_found_and_said(catalogued, utc):
    tree, catalog_path = catalogued
    shadow = tree / "etc" / "shadow"
    before, etc = os.stat(shadow), os.stat(tree / "etc")
    os.chmod(shadow, 0o644)
    os.chown(tree / "etc" / "passwd", 1234, 0)  # also the hard link: one inode
    os.utime(tree / "etc" / "empty", ns=(0, 10 ** 9))
    os.unlink(tree / "etc" / "zz-hard")  # a copy where a hard link was
    (tree / "etc" / "zz-hard").write_bytes((tree / "etc" / "passwd").read_bytes())
    os.unlink(tree / "etc" / "link")
    os.symlink("elsewhere", tree / "etc" / "link")
    os.unlink(tree / "etc" / "fifo")
    (tree / "etc" / "fifo").write_bytes(b"")
    os.utime(tree / "etc", ns=(etc.st_atime_ns, etc.st_mtime_ns))  # not a difference itself
    found = differences(tree, catalog_path)
    assert found["/etc/shadow"] == ["mode 0644 on disk, 0640 in the set"]
    assert found["/etc/passwd"] == [
        f"owner 1234:0 on disk, {before.st_uid}:{before.st_gid} in the set"]
    assert found["/etc/empty"][0].startswith("modified 1970-01-01 00:00:01 on disk, ")
    assert found["/etc/link"] == ["points to elsewhere on disk, to passwd in the set"]
    assert found["/etc/fifo"] == ["a file on disk, a fifo in the set"]
    assert found["/etc/zz-hard"] == ["not a hard link to /etc/passwd"]
    assert len(found) == 6


def test_a_changed_size_is_said(catalogued):
    tree, catalog_path = catalogued
    shadow = tree / "etc" / "shadow"
    before = os.stat(shadow)
    shadow.write_bytes(b"longer secret\n")
    os.utime(shadow, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert differences(tree, catalog_path) == {
        "/etc/shadow": ["size 14 Bytes on disk, 7 Bytes in the set"]}
