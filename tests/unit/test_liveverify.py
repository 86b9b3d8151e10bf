"""The verify beside the extraction: it trails a real GNU tar fed a piece at a time, finds no
difference in a tree restored right (directories and delayed symlinks are finished last), and
finds and says each difference of a tree restored wrong, also in its child process."""

from __future__ import annotations

import logging
import os
import subprocess
import time

import pytest

from console.core.applying.liveverify import LiveVerify, follow
from console.core.applying.verify import TreeOfFs
from console.core.backupset.archive import TAR_EXTRACT
from console.core.backupset.catalog import Catalog
from console.core.layout import Filesystem
from tests.unit.treecatalog import catalogue

PIECE = 4096
MTIME = 1_600_000_000_123_456_789


@pytest.fixture
def archived(tmp_path):
    """A tree with directories, an absolute symlink (tar delays it), a relative one, a hard
    link and files of several sizes; its pax stream and catalog."""
    tree = tmp_path / "source"
    for d in ("etc/ssh", "srv/data/deep", "var/empty"):
        (tree / d).mkdir(parents=True)
    for i in range(40):
        (tree / "srv/data" / f"f{i:02}").write_bytes(os.urandom(i * 300))
    (tree / "etc/ssh/key").write_bytes(b"secret\n")
    os.chmod(tree / "etc/ssh/key", 0o600)
    os.chmod(tree / "etc/ssh", 0o750)
    os.symlink("/etc/ssh/key", tree / "srv/absolute")
    os.symlink("../etc/ssh/key", tree / "srv/relative")
    os.link(tree / "srv/data/f10", tree / "srv/data/deep/hard")
    for path in sorted(tree.rglob("*"), reverse=True):
        os.utime(path, ns=(MTIME, MTIME), follow_symlinks=False)
    stream = catalogue(tree, tmp_path / "catalog.sqlite")
    target = tmp_path / "target"
    target.mkdir()
    return stream, str(tmp_path / "catalog.sqlite"), target


class PieceByPiece:
    """A real tar -x fed one piece of the stream each time the verify waits."""

    def __init__(self, stream: bytes, target):
        self.pieces = [stream[i:i + PIECE] for i in range(0, len(stream), PIECE)]
        self.proc = subprocess.Popen(["tar", *TAR_EXTRACT, "-f", "-", "-C", str(target)],
                                     stdin=subprocess.PIPE)
        self.waits = 0

    def __call__(self, timeout: float | None) -> bool:
        self.waits += 1
        if self.pieces and timeout is not None:
            self.proc.stdin.write(self.pieces.pop(0))
            self.proc.stdin.flush()
            time.sleep(0.002)  # tar works on it meanwhile
            return False
        for piece in self.pieces:
            self.proc.stdin.write(piece)
        self.pieces = []
        self.proc.stdin.close()
        assert self.proc.wait() == 0
        return True


def tree_of(target) -> TreeOfFs:
    return TreeOfFs.of("/", str(target), set())


def test_trailing_a_real_tar_finds_nothing_wrong_in_a_right_tree(archived):
    stream, catalog_path, target = archived
    extraction = PieceByPiece(stream, target)
    with Catalog(catalog_path) as catalog:
        followed = follow(catalog, 1, tree_of(target), extraction)
        members = catalog.count(1)
    assert extraction.waits > 3  # it did trail the extraction, not just check after it
    assert not extraction.pieces and extraction.proc.returncode == 0
    assert followed.differences == []
    assert followed.checked == members


def test_each_difference_of_a_wrong_tree_is_found_and_said(archived, utc):
    stream, catalog_path, target = archived
    subprocess.run(["tar", *TAR_EXTRACT, "-f", "-", "-C", str(target)], input=stream, check=True)
    os.chmod(target / "etc/ssh/key", 0o644)
    os.unlink(target / "srv/data/f05")
    os.utime(target / "srv/data/f06", ns=(0, 0))
    os.unlink(target / "srv/absolute")
    os.symlink("/elsewhere", target / "srv/absolute")
    os.utime(target / "var/empty", ns=(0, 0))
    for changed_by_the_above in ("srv", "srv/data"):
        os.utime(target / changed_by_the_above, ns=(MTIME, MTIME))
    with Catalog(catalog_path) as catalog:
        followed = follow(catalog, 1, tree_of(target), lambda timeout: True)
    found = {d.path: d.what for d in followed.differences}
    epoch_and_mtime = "modified 1970-01-01 00:00:00 on disk, 2020-09-13 12:26:40 in the set"
    assert found == {"/etc/ssh/key": "mode 0644 on disk, 0600 in the set",
                     "/srv/data/f05": "missing",
                     "/srv/data/f06": epoch_and_mtime,
                     "/srv/absolute": "points to /elsewhere on disk, to /etc/ssh/key in the set",
                     "/var/empty": epoch_and_mtime}


def test_a_file_that_never_matches_is_waited_for_only_until_the_extraction_is_over(archived):
    stream, catalog_path, target = archived
    subprocess.run(["tar", *TAR_EXTRACT, "-f", "-", "-C", str(target)], input=stream, check=True)
    os.chmod(target / "srv/data/f00", 0o600)
    calls = []

    def over_at_the_third_wait(timeout):
        calls.append(timeout)
        return len(calls) >= 3

    with Catalog(catalog_path) as catalog:
        followed = follow(catalog, 1, tree_of(target), over_at_the_third_wait)
    assert len(calls) == 3
    assert [d.path for d in followed.differences] == ["/srv/data/f00"]


def test_the_child_process_reports_its_result(archived):
    stream, catalog_path, target = archived
    subprocess.run(["tar", *TAR_EXTRACT, "-f", "-", "-C", str(target)], input=stream, check=True)
    os.chmod(target / "etc/ssh/key", 0o644)
    fs = Filesystem(id=1, disk="/dev/sda", partition=1, device="/dev/sda1", type="ext4",
                    mountpoint="/")
    live = LiveVerify(catalog_path, fs, str(target), set())
    live.extracted()
    followed = live.result()
    live.stop()
    assert followed is not None
    assert [(d.path, d.what) for d in followed.differences] == [
        ("/etc/ssh/key", "mode 0644 on disk, 0600 in the set")]


def test_a_child_that_fails_gives_no_result_and_says_why_in_the_log(tmp_path, caplog):
    fs = Filesystem(id=1, disk="/dev/sda", partition=1, device="/dev/sda1", type="ext4",
                    mountpoint="/")
    live = LiveVerify(str(tmp_path / "no-catalog.sqlite"), fs, str(tmp_path), set())
    with caplog.at_level(logging.WARNING, logger="restore_console"):
        assert live.result() is None
    live.stop()
    assert "The catalog" in caplog.text and "is missing" in caplog.text


def test_what_the_set_does_not_hold_is_found_once_the_extraction_is_over(archived):
    stream, catalog_path, target = archived
    (target / "srv").mkdir()
    (target / "srv/stray").write_bytes(b"left from before\n")  # mkfs makes a fresh one: never
    extraction = PieceByPiece(stream, target)
    with Catalog(catalog_path) as catalog:
        followed = follow(catalog, 1, tree_of(target), extraction)
    assert [(d.path, d.what) for d in followed.differences] == [
        ("/srv/stray", "extra: on disk, not in the set")]
