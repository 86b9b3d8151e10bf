"""A selection restored from a real backup set (GPT image: ext4 /, xfs /srv/data) with the command
line, compared with the source by rsync -naHAX --checksum, restricted to the selected paths."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from console.core.applying.partial import restore_selection, selection_for_paths
from console.core.backupset.catalog import Catalog
from console.core.backupset.manifest import load_set
from console.core.backupset.seekable import SeekableReader
from tests.system.clitool import cli, cli_backup
from tests.system.hardtree import rsync_differences, xattrs_and_acls_snapshot
from tests.system.images import attached, make_source_disk, mounted, populate_source_disk

pytestmark = pytest.mark.system

RO = {2: ("ext4", "ro,noload"), 3: ("xfs", "ro,norecovery")}
SELECTED_DIRS = ["/etc", "/modes", "/xattrs", "/acl", "/names", "/owners", "/links/b",
                 "/srv/data/www"]
SELECTED_FILES = ["/content/size-513", "/special/fifo"]
BULK_FILES = 6  # 4 MiB each: the archive has several frames, most of them not needed



@pytest.fixture(scope="module")
def backed_up(tmp_path_factory):
    base = tmp_path_factory.mktemp("partial-restore")
    source = base / "source.img"
    make_source_disk(source, 512)
    info = populate_source_disk(source)
    rng = random.Random(9)
    with attached(source) as disk, mounted(disk.partition(2), "ext4") as root:
        (root / "bulk").mkdir()
        for i in range(BULK_FILES):
            (root / f"bulk/part-{i}").write_bytes(rng.randbytes(4 * 1024 * 1024))
    set_dir = cli_backup(source, base / "set")
    out = base / "out"
    proc = cli("restore", str(set_dir), *[a for p in SELECTED_DIRS + SELECTED_FILES
                                          for a in ("--only", p)], "--into", str(out))
    assert proc.returncode == 0, proc.stderr
    return source, set_dir, out, info, proc.stdout


@pytest.fixture(scope="module")
def source_trees(backed_up):
    source = backed_up[0]
    with attached(source, read_only=True) as disk, \
            mounted(disk.partition(2), *RO[2]) as root, mounted(disk.partition(3), *RO[3]) as data:
        yield Path(root), Path(data)


@pytest.mark.parametrize("selected", SELECTED_DIRS)
def test_selected_directories_are_identical(backed_up, source_trees, selected):
    out = backed_up[2]
    root, data = source_trees
    src = data / selected.removeprefix("/srv/data/") if selected.startswith("/srv/data/") \
        else root / selected.lstrip("/")
    dst = out / selected.lstrip("/")
    assert rsync_differences(src, dst) == []
    assert xattrs_and_acls_snapshot(src) == xattrs_and_acls_snapshot(dst)
    assert any(dst.iterdir())  # not vacuous


@pytest.mark.parametrize("selected", SELECTED_FILES)
def test_selected_files_are_identical(backed_up, source_trees, selected):
    out = backed_up[2]
    root, _ = source_trees
    a, b = os.lstat(root / selected.lstrip("/")), os.lstat(out / selected.lstrip("/"))
    assert (a.st_mode, a.st_uid, a.st_gid, a.st_size, a.st_mtime_ns) == \
        (b.st_mode, b.st_uid, b.st_gid, b.st_size, b.st_mtime_ns)
    if os.path.isfile(root / selected.lstrip("/")):
        assert (out / selected.lstrip("/")).read_bytes() == (root / selected.lstrip("/")).read_bytes()


def test_directories_on_the_way_have_their_archived_metadata(backed_up, source_trees):
    out = backed_up[2]
    root, data = source_trees
    for name, src in (("content", root / "content"), ("links", root / "links"),
                      ("srv", root / "srv"), ("srv/data", data)):
        a, b = os.lstat(src), os.lstat(out / name)
        assert (a.st_mode, a.st_uid, a.st_gid, a.st_mtime_ns) == \
            (b.st_mode, b.st_uid, b.st_gid, b.st_mtime_ns), name


def test_nothing_else_is_restored(backed_up):
    out = backed_up[2]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["acl", "content", "etc", "links", "modes", "names", "owners", "special", "srv", "xattrs"])
    assert sorted(p.name for p in (out / "content").iterdir()) == ["size-513"]
    assert sorted(p.name for p in (out / "special").iterdir()) == ["fifo"]
    assert not (out / "links/a").exists()
    assert not (out / "bulk").exists()
    assert sorted(p.name for p in (out / "srv/data").iterdir()) == ["www"]


def test_hard_link_whose_partners_are_not_selected_has_its_content(backed_up, source_trees):
    out = backed_up[2]
    root, _ = source_trees
    third = out / "links/b/third"
    assert third.read_bytes() == (root / "links/a/first").read_bytes() == \
        b"one inode, three names\n"
    assert os.stat(root / "links/b/third").st_nlink == 3 and os.stat(third).st_nlink == 1


def test_only_the_frames_holding_the_selection_are_read(backed_up, tmp_path):
    _, set_dir, _, _, stdout = backed_up
    backup_set = load_set(str(set_dir))
    with Catalog(backup_set.catalog_path) as catalog:
        selections = selection_for_paths(backup_set, catalog, ["/etc/fstab"])
        fs = backup_set.filesystem(selections[0].fs)
        entry = catalog.lookup(fs.id, b"/etc/fstab")
    with SeekableReader(backup_set.piece_path(fs.archive.pieces[0])) as reader:
        holding = {i for i in (reader.frame_at(entry.offset),
                               reader.frame_at(entry.offset + entry.length - 1))}
        total = len(reader.frames)
    assert total >= BULK_FILES  # the bulk files alone fill that many frames
    result = restore_selection(backup_set, selections, str(tmp_path / "one"))
    assert result.frames_read == len(holding) and result.frames_total == total
    assert (tmp_path / "one/etc/fstab").read_bytes().startswith(b"# written by tests")
    # The command line says the same of its own, larger selection.
    assert "compressed frames" in stdout and "every file matched its BLAKE3" in stdout
