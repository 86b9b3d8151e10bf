"""Inode flags (chattr/lsattr) survive a backup and a whole restore on real ext4 images, and the
verify sees a flag that changed on the target. GNU tar alone drops them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from console.core.applying.verify import VerifyResult, check_filesystem
from console.core.backupset.catalog import Catalog
from console.core.backupset.manifest import load_set
from console.core.events import Progress
from tests.system.clitool import cli, cli_backup
from tests.system.images import attached, make_one_ext4_disk, mounted

pytestmark = pytest.mark.system

DISK_MIB = 64
# path -> chattr argument; the locked directory's file is written before the directory's flag.
FLAGGED = {"etc/resolv.conf": "+i", "var/log/audit.log": "+a", "home/scratch.bin": "+d",
           "home/cache": "+dT", "locked": "+i", "var/log/wtmp": "+aA"}


def fill(root) -> None:
    for directory in ("etc", "var/log", "home/cache", "locked"):
        Path(root, directory).mkdir(parents=True)
    for name in ("etc/resolv.conf", "var/log/audit.log", "home/scratch.bin", "home/plain",
                 "locked/inside", "var/log/wtmp"):
        Path(root, name).write_text(f"{name}\n")
    for name, change in FLAGGED.items():
        subprocess.run(["chattr", change, str(Path(root, name))], check=True)


def lsattr_tree(root: Path) -> list[str]:
    """lsattr -R of the whole tree, with the mount point taken out of each name."""
    out = subprocess.run(["lsattr", "-Ra", str(root)], capture_output=True, text=True,
                         check=True).stdout
    return sorted(line.replace(str(root), "") for line in out.splitlines()
                  if line.strip() and not line.endswith(":"))


@pytest.fixture(scope="module")
def flagged_set(tmp_path_factory) -> tuple[Path, Path, str]:
    base = tmp_path_factory.mktemp("inode-flags")
    source = base / "source.img"
    make_one_ext4_disk(source, DISK_MIB, fill)
    set_dir = cli_backup(source, base / "set")
    name = json.loads(cli("inspect", str(set_dir), "--json").stdout)["disks"][0]["name"]
    return source, set_dir, name


def restored(set_dir: Path, name: str, target: Path) -> subprocess.CompletedProcess:
    with open(target, "wb") as f:
        f.truncate(DISK_MIB * 1024 * 1024)
    return cli("restore", str(set_dir), "--map", f"{name}={target}", "--yes")


def test_immutable_append_only_and_no_dump_files_round_trip_with_lsattr_equal(flagged_set,
                                                                              tmp_path):
    source, set_dir, name = flagged_set
    target = tmp_path / "target.img"
    proc = restored(set_dir, name, target)
    assert proc.returncode == 0, proc.stderr
    with attached(source, read_only=True) as src, attached(target, read_only=True) as tgt, \
            mounted(src.partition(1), "ext4", "ro") as src_root, \
            mounted(tgt.partition(1), "ext4", "ro") as tgt_root:
        before = lsattr_tree(src_root)
        assert any("i" in line.split()[0] for line in before)  # the source did hold them
        assert lsattr_tree(tgt_root) == before


def test_the_verify_names_a_flag_changed_on_the_target(flagged_set, tmp_path):
    _, set_dir, name = flagged_set
    target = tmp_path / "target.img"
    assert restored(set_dir, name, target).returncode == 0
    backup_set = load_set(str(set_dir))
    fs = backup_set.filesystems[0]
    with attached(target) as tgt, mounted(tgt.partition(1), "ext4") as root:
        subprocess.run(["chattr", "-i", "+a", str(root / "etc/resolv.conf")], check=True)
        subprocess.run(["chattr", "-d", str(root / "home/cache")], check=True)
        result = VerifyResult()
        with Catalog(backup_set.catalog_path) as catalog:
            check_filesystem(catalog, fs, str(root), set(), result, Progress("Verifying"),
                             content=False)
        found = {d.path: d.what for d in result.differences}
        for name_ in FLAGGED:
            subprocess.run(["chattr", "-i", "-a", str(root / name_)], check=True)
    assert found == {"/etc/resolv.conf": "flags a on disk, i in the set",
                     "/home/cache": "flags T on disk, dT in the set"}


def test_a_partial_restore_over_an_immutable_file_refuses_without_yes_and_replaces_with_it(
        flagged_set, tmp_path):
    _, set_dir, name = flagged_set
    target = tmp_path / "target.img"
    assert restored(set_dir, name, target).returncode == 0
    with attached(target) as tgt, mounted(tgt.partition(1), "ext4") as root:
        resolv = root / "etc/resolv.conf"
        subprocess.run(["chattr", "-i", str(resolv)], check=True)
        resolv.write_text("nameserver 192.0.2.1\n")
        subprocess.run(["chattr", "+ia", str(resolv)], check=True)
        restore = ("restore", str(set_dir), "--only", "/etc", "--into", str(root))
        refused = cli(*restore)
        still = resolv.read_text()
        replaced = cli(*restore, "--yes")
        content = resolv.read_text()
        flags = subprocess.run(["lsattr", "-d", str(resolv)], capture_output=True, text=True,
                               check=True).stdout.split()[0]
        for name_ in FLAGGED:
            subprocess.run(["chattr", "-i", "-a", str(root / name_)], check=True)
    assert refused.returncode == 2
    assert f"1 entry immutable or append-only ({resolv})" in " ".join(refused.stderr.split())
    assert still == "nameserver 192.0.2.1\n"
    assert replaced.returncode == 0, replaced.stderr
    assert content == "etc/resolv.conf\n"
    assert "i" in flags and "a" not in flags


def test_a_file_restored_into_an_immutable_directory_has_its_flags_and_the_directory_too(
        flagged_set, tmp_path):
    _, set_dir, name = flagged_set
    target = tmp_path / "target.img"
    assert restored(set_dir, name, target).returncode == 0
    with attached(target) as tgt, mounted(tgt.partition(1), "ext4") as root:
        log_dir = root / "var/log"
        subprocess.run(["chattr", "-a", str(log_dir / "audit.log")], check=True)
        (log_dir / "audit.log").unlink()
        subprocess.run(["chattr", "+i", str(log_dir)], check=True)
        proc = cli("restore", str(set_dir), "--only", "/var/log/audit.log", "--into", str(root))
        shown = subprocess.run(["lsattr", "-d", str(log_dir), str(log_dir / "audit.log")],
                               capture_output=True, text=True, check=True).stdout.split()
        subprocess.run(["chattr", "-i", str(log_dir)], check=True)
        for name_ in FLAGGED:
            subprocess.run(["chattr", "-i", "-a", str(root / name_)], check=True)
    assert proc.returncode == 0, proc.stderr
    assert "i" in shown[0]  # var/log: as it was before the restore
    assert "a" in shown[2] and "i" not in shown[2]  # audit.log: as the set has it


def test_flags_the_target_does_not_take_are_said_and_the_others_set(flagged_set, tmp_path):
    _, set_dir, _ = flagged_set
    into = tmp_path / "tmpfs"
    into.mkdir()
    # tmpfs takes i, a, d and A, not T (the top of a directory hierarchy)
    subprocess.run(["mount", "-t", "tmpfs", "none", str(into)], check=True)
    try:
        proc = cli("restore", str(set_dir), "--only", "/home", "--into", str(into))
        shown = subprocess.run(["lsattr", "-d", str(into / "home/cache"),
                                str(into / "home/scratch.bin")],
                               capture_output=True, text=True, check=True).stdout.split()
    finally:
        subprocess.run(["umount", str(into)], check=True)
    assert proc.returncode == 0, proc.stderr
    said = " ".join((proc.stdout + proc.stderr).split())
    assert "the inode flags T could not be set" in said
    assert "d" in shown[0] and "T" not in shown[0]
    assert "d" in shown[2]
