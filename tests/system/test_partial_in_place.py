"""Selected files restored in place with the command line: a GPT image backed up, restored whole
onto a second image, files there deleted and changed, then `restore SET --only ... --map` (or
the disk found by UUID) puts the selection back. Judged against the source by rsync -naHAX
--checksum on each selected subtree; files outside the selection must keep their changes.
A disk whose filesystems are not the set's, a mounted one, and a run without --yes write
nothing (the image's bytes are compared)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path
from typing import Iterator

import blake3
import pytest

from tests.system.clitool import cli, cli_backup
from tests.system.hardtree import rsync_differences, xattrs_and_acls_snapshot
from tests.system.images import attached, blkid_of, make_source_disk, mounted, populate_source_disk

pytestmark = pytest.mark.system

RO = {2: ("ext4", "ro,noload"), 3: ("xfs", "ro,norecovery,nouuid")}
SELECTED = ["/modes", "/xattrs", "/acl", "/srv/data/www"]


@pytest.fixture(scope="module")
def restored(tmp_path_factory):
    """(source image, set, the set's name of the disk, the restored target image, manifest)."""
    base = tmp_path_factory.mktemp("in-place")
    source = base / "source.img"
    make_source_disk(source, 512)
    populate_source_disk(source)
    set_dir = cli_backup(source, base / "set")
    manifest = json.loads(cli("inspect", str(set_dir), "--json").stdout)
    name = manifest["disks"][0]["name"]
    target = base / "target.img"
    with open(target, "wb") as f:
        f.truncate(source.stat().st_size)
    proc = cli("restore", str(set_dir), "--map", f"{name}={target}", "--yes")
    assert proc.returncode == 0, proc.stderr
    return source, set_dir, name, target, manifest


def fs_of(manifest: dict, mountpoint: str) -> dict:
    [fs] = [f for f in manifest["filesystems"] if f["mountpoint"] == mountpoint]
    return fs


def image_digest(image: Path) -> str:
    hasher = blake3.blake3()
    with open(image, "rb") as f:
        while chunk := f.read(8 * 1024 * 1024):
            hasher.update(chunk)
    return hasher.hexdigest()


def loops_of(image: Path) -> str:
    return subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True).stdout


@contextlib.contextmanager
def target_mounted(image: Path, read_only: bool = False) -> Iterator[tuple[Path, Path]]:
    """The image's root (ext4) and data (xfs) filesystems, each mounted on its own."""
    options = RO if read_only else {2: ("ext4", ""), 3: ("xfs", "nouuid")}
    with attached(image, read_only=read_only) as disk, \
            mounted(disk.partition(2), *options[2]) as root, \
            mounted(disk.partition(3), *options[3]) as data:
        yield root, data


def selected_path(trees: tuple[Path, Path], path: str) -> Path:
    root, data = trees
    if path.startswith("/srv/data/"):
        return data / path.removeprefix("/srv/data/")
    return root / path.lstrip("/")


def damage(trees: tuple[Path, Path]) -> None:
    """Deletes and changes files inside the selection."""
    root, data = trees
    (root / "modes/setuid-4755").unlink()
    os.chmod(root / "modes/private-0600", 0o644)
    os.chown(root / "modes/private-0600", 1000, 1000)
    subprocess.run(["rm", "-rf", str(root / "modes/read-only-dir-0555")], check=True)
    (root / "xattrs/text").write_bytes(b"changed\n")
    os.removexattr(root / "xattrs/text", "user.comment")
    subprocess.run(["setfacl", "-b", str(root / "acl/access-acl")], check=True)
    (data / "www/index.html").unlink()


def change_outside(trees: tuple[Path, Path]) -> dict[str, tuple[bytes, int]]:
    """Changes files outside the selection; returns their content and mtime afterwards."""
    root, data = trees
    with open(root / "etc/fstab", "ab") as f:
        f.write(b"# changed after the restore\n")
    (data / "notes.txt").write_bytes(b"changed after the restore\n")
    (root / "content/size-513").write_bytes(b"also changed\n")
    return {name: (path.read_bytes(), path.stat().st_mtime_ns)
            for name, path in (("fstab", root / "etc/fstab"), ("notes", data / "notes.txt"),
                               ("size-513", root / "content/size-513"))}


def test_the_selection_goes_back_in_place_and_nothing_else_changes(restored):
    source, set_dir, name, target, _ = restored
    with target_mounted(target) as trees:
        damage(trees)
        outside = change_outside(trees)
        top = sorted(p.name for p in trees[0].iterdir())
    with target_mounted(source, read_only=True) as src, \
            target_mounted(target, read_only=True) as dst:
        assert any(rsync_differences(selected_path(src, p), selected_path(dst, p))
                   for p in SELECTED)  # the damage shows before the restore
    args = [a for p in SELECTED for a in ("--only", p)]
    proc = cli("restore", str(set_dir), *args, "--map", f"{name}={target}", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "Restored " in proc.stdout and "in place" in proc.stdout
    assert f"onto ext4 / on {target}, partition 2" in proc.stdout
    assert f"onto xfs /srv/data on {target}, partition 3" in proc.stdout
    assert loops_of(target) == ""  # everything detached again
    with target_mounted(source, read_only=True) as src, \
            target_mounted(target, read_only=True) as dst:
        for path in SELECTED:
            a, b = selected_path(src, path), selected_path(dst, path)
            assert rsync_differences(a, b) == [], path
            assert xattrs_and_acls_snapshot(a) == xattrs_and_acls_snapshot(b), path
            assert any(b.iterdir()), path  # not vacuous
        root, data = dst
        now = {name: (path.read_bytes(), path.stat().st_mtime_ns)
               for name, path in (("fstab", root / "etc/fstab"), ("notes", data / "notes.txt"),
                                  ("size-513", root / "content/size-513"))}
        assert now == outside
        assert sorted(p.name for p in root.iterdir()) == top  # nothing new at the top


def test_a_disk_holding_other_filesystems_is_refused_and_not_written(restored, tmp_path):
    _, set_dir, name, _, manifest = restored
    other = tmp_path / "same-layout.img"
    make_source_disk(other, 512)  # the same partitions, filesystems with new UUIDs
    with attached(other, read_only=True) as disk:
        new_uuid = blkid_of(disk.partition(2))["UUID"]
    before = image_digest(other)
    root = fs_of(manifest, "/")
    proc = cli("restore", str(set_dir), "--only", "/etc", "--only", "/srv/data/www",
               "--map", f"{name}={other}", "--yes")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert (f"Partition 2 of {other} holds ext4, UUID {new_uuid}, not fs-{root['id']} "
            f"(ext4 /, UUID {root['uuid']}) of the set. Nothing was written.") in proc.stderr
    assert "Device names can change between boots" in proc.stderr
    assert image_digest(other) == before
    assert loops_of(other) == ""


def test_a_mounted_target_is_refused(restored):
    _, set_dir, name, target, _ = restored
    with attached(target) as disk, mounted(disk.partition(3), "xfs", "nouuid") as where:
        proc = cli("restore", str(set_dir), "--only", "/srv/data/www",
                   "--map", f"{name}={target}", "--yes")
        assert proc.returncode == 1
        assert f"{target} is in use: {disk.partition(3)} is mounted at {where}." in proc.stderr
        assert "Unmount it first" in proc.stderr


def test_without_yes_it_shows_what_it_would_do_and_writes_nothing(restored):
    _, set_dir, name, target, manifest = restored
    with target_mounted(target) as (root, _):
        (root / "modes/exec-0755").unlink()
    before = image_digest(target)
    proc = cli("restore", str(set_dir), "--only", "/modes", "--map", f"{name}={target}")
    assert proc.returncode == 2
    root_fs = fs_of(manifest, "/")
    assert f"fs-{root_fs['id']} (ext4 /, UUID {root_fs['uuid']}): " in proc.stdout
    assert f"onto partition 2 of {target}" in proc.stdout
    # The files still there were counted on the filesystem mounted read-only, unchanged.
    assert f"This writes into the filesystems above, on {target}, replacing " in proc.stderr
    assert " existing files. Nothing was written." in proc.stderr
    assert "would be replaced: /modes/" in proc.stdout and "exec-0755" not in proc.stdout
    assert "add --yes to confirm" in proc.stderr
    assert image_digest(target) == before
    with target_mounted(target, read_only=True) as (root, _):
        assert not (root / "modes/exec-0755").exists()


@contextlib.contextmanager
def loop_with_partitions(image: Path) -> Iterator[str]:
    """The image as a loop device, its partitions added with partx (this kernel does not scan
    loop devices' tables); always removed again."""
    device = subprocess.run(["losetup", "--show", "-f", str(image)], capture_output=True,
                            text=True, check=True).stdout.strip()
    try:
        subprocess.run(["partx", "-a", device], capture_output=True)
        subprocess.run(["partx", "-u", device], capture_output=True)  # stale ones of a reuse
        yield device
    finally:
        subprocess.run(["partx", "-d", device], capture_output=True)
        subprocess.run(["losetup", "-d", device], check=True)


def test_without_map_the_disk_holding_the_filesystems_is_found(restored):
    _, set_dir, name, target, manifest = restored
    root_fs = fs_of(manifest, "/")
    with target_mounted(target) as (root, _):
        (root / "xattrs/binary").unlink()
    proc = cli("restore", str(set_dir), "--only", "/xattrs", "--yes")
    assert proc.returncode == 1  # an image file is not searched, and nothing is attached
    assert f"No disk of this machine holds fs-{root_fs['id']} (ext4 /, UUID " \
           f"{root_fs['uuid']})." in proc.stderr
    assert f"--map {name}=TARGET" in proc.stderr and "--into DIR" in proc.stderr
    with loop_with_partitions(target) as device:
        proc = cli("restore", str(set_dir), "--only", "/xattrs", "--yes")
        assert proc.returncode == 0, proc.stderr
        assert f"The filesystems of {name} were found on {device}: " in proc.stdout
        assert str(target) in proc.stdout  # the loop device's file, in discovery's words
        assert proc.stdout.index("were found on") < proc.stdout.index("Restored ")
        with loop_with_partitions(target) as second:
            proc = cli("restore", str(set_dir), "--only", "/xattrs", "--yes")
            assert proc.returncode == 1
            assert "are on 2 disks of this machine" in proc.stderr
            assert f"{device}: " in proc.stderr and f"{second}: " in proc.stderr
            assert f"--map {name}=TARGET" in proc.stderr
    assert loops_of(target) == ""
    with target_mounted(target, read_only=True) as (root, _):
        assert (root / "xattrs/binary").read_bytes() == b"binary\n"
        assert os.getxattr(root / "xattrs/binary", "user.binary") == bytes(range(256))


def test_the_devices_themselves_are_checked_again_before_anything_is_mounted(
        restored, tmp_path, monkeypatch):
    """A copy of the restored image whose xfs was made anew; the table read is made to say all
    is well (as if the disk changed right after that check). The probe of the attached
    partitions refuses, before the ext4, which is the set's, is mounted read-write."""
    from console.core.applying import inplace
    from console.core.applying.partial import selection_for_paths
    from console.core.backupset.catalog import Catalog
    from console.core.backupset.manifest import load_set
    from console.core.errors import RestoreError
    _, set_dir, name, target, manifest = restored
    changed = tmp_path / "changed.img"
    subprocess.run(["cp", "--sparse=always", str(target), str(changed)], check=True)
    with attached(changed) as disk:
        subprocess.run(["mkfs.xfs", "-q", "-f", disk.partition(3)], check=True)
    backup_set = load_set(str(set_dir))
    claimed = [inplace.FoundPartition(fs["partition"], 0, 0, fs["type"], fs["uuid"])
               for fs in manifest["filesystems"] if fs["disk"] == name]
    monkeypatch.setattr(inplace, "read_partitions", lambda target: claimed)
    with Catalog(backup_set.catalog_path) as catalog:
        selections = selection_for_paths(backup_set, catalog, ["/etc", "/srv/data/www"])
    before = image_digest(changed)
    with pytest.raises(RestoreError) as refused:
        inplace.restore_in_place(backup_set, selections, {name: str(changed)})
    assert "(partition 3 of " in refused.value.message and " holds xfs, UUID " in \
        refused.value.message
    assert refused.value.message.endswith("Nothing was written.")
    assert image_digest(changed) == before  # a read-write mount of the ext4 would show
    assert loops_of(changed) == ""


def test_a_write_error_when_writing_out_is_said_and_everything_let_go(restored, tmp_path,
                                                                      monkeypatch):
    """umount does not report a write error the filesystem met; the restore in place asks
    each filesystem it wrote (syncfs) and says so, for the filesystems in turn."""
    import errno

    from console.core.applying import inplace
    from console.core.applying.partial import selection_for_paths
    from console.core.backupset.catalog import Catalog
    from console.core.backupset.manifest import load_set
    from console.core.disks import writeback
    from console.core.errors import RestoreError
    _, set_dir, name, target, _ = restored
    copy = tmp_path / "copy.img"
    subprocess.run(["cp", "--sparse=always", str(target), str(copy)], check=True)
    asked = []

    def failing_syncfs(fd):
        asked.append(os.readlink(f"/proc/self/fd/{fd}"))
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(writeback, "syncfs", failing_syncfs)
    backup_set = load_set(str(set_dir))
    with Catalog(backup_set.catalog_path) as catalog:
        selections = selection_for_paths(backup_set, catalog, ["/etc"])
    with pytest.raises(RestoreError) as failed:
        inplace.restore_in_place(backup_set, selections, {name: str(copy)})
    assert failed.value.message.startswith("Writing the restored ext4 ")
    assert failed.value.message.endswith(" to its disk failed: Input/output error.")
    assert len(asked) == 1 and "restore-console-mnt-" in asked[0]
    assert loops_of(copy) == ""
