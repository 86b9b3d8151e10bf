"""An msdos-labelled disk with boot code, a primary and logical partitions in an extended one:
backed up and restored onto an image of the same size, then compared with sfdisk, blkid, the
bytes of the boot area, and rsync."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.system.clitool import cli, cli_backup
from tests.system.hardtree import rsync_differences
from tests.system.images import MiB, attached, blkid_of, mounted, sfdisk_json

pytestmark = pytest.mark.system

SIGNATURE = "0x5ca1ab1e"
LAYOUT = """label: dos
label-id: 0x5ca1ab1e
start=2048, size=64MiB, type=83, bootable
size=16MiB, type=82
type=5
size=48MiB, type=83
size=40MiB, type=83
"""
# number -> (mkfs command, label, mount type or None)
FILESYSTEMS = {1: (["mkfs.ext2", "-q", "-L"], "boot", "ext2"),
               2: (["mkswap", "-L"], "swap", None),
               5: (["mkfs.ext4", "-q", "-L"], "root", "ext4"),
               6: (["mkfs.ext3", "-q", "-L"], "home", "ext3")}
BOOT_CODE = bytes(range(256)) + bytes(range(184))  # 440 bytes where the MBR's code goes
CORE_IMAGE = b"grub core image stand-in " * 1000  # the gap before the first partition



def _make_source(path: Path) -> None:
    with open(path, "wb") as f:
        f.truncate(256 * MiB)
    subprocess.run(["sfdisk", "-q", str(path)], input=LAYOUT, text=True, check=True)
    with open(path, "r+b") as f:
        f.write(BOOT_CODE)
        f.seek(512)
        f.write(CORE_IMAGE)
    with attached(path) as disk:
        for number, (mkfs, label, fstype) in FILESYSTEMS.items():
            subprocess.run([*mkfs, label, disk.partition(number)], check=True,
                           capture_output=True)
        for number in (1, 5, 6):
            with mounted(disk.partition(number), FILESYSTEMS[number][2]) as root:
                for i in range(20):
                    Path(root, f"file-{i}").write_bytes(os.urandom(1000 * i))
                Path(root, "dir").mkdir()
                Path(root, "dir", "link").symlink_to("../file-3")
                os.chown(Path(root, "file-7"), 1234, 5678)
                if number == 5:
                    Path(root, "etc").mkdir()
                    Path(root, "etc/fstab").write_text(
                        "LABEL=root / ext4 defaults 0 1\nLABEL=boot /boot ext2 defaults 0 2\n"
                        "LABEL=home /home ext3 defaults 0 2\nLABEL=swap none swap sw 0 0\n")
                    Path(root, "boot").mkdir()
                    Path(root, "home").mkdir()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    base = tmp_path_factory.mktemp("msdos")
    source, target, set_dir = base / "source.img", base / "target.img", base / "set"
    _make_source(source)
    cli_backup(source, set_dir)
    with open(target, "wb") as f:
        f.truncate(source.stat().st_size)
    proc = cli("restore", str(set_dir), "--map", f"{source}={target}", "--yes")
    assert proc.returncode == 0, proc.stderr
    return source, target, set_dir


def _table(image: Path) -> dict:
    table = sfdisk_json(image)["partitiontable"]
    table.pop("device")
    for part in table["partitions"]:
        part["node"] = part["node"].removeprefix(str(image))
    return table


def test_table_with_logical_partitions_is_the_same(images):
    source, target, _ = images
    assert _table(target) == _table(source)
    assert _table(source)["id"] == SIGNATURE
    assert [p["node"] for p in _table(source)["partitions"]] == ["1", "2", "3", "5", "6"]


def test_boot_code_and_gap_are_restored(images):
    source, target, _ = images
    with open(source, "rb") as a, open(target, "rb") as b:
        assert b.read(440) == a.read(440) == BOOT_CODE
        a.seek(512)
        b.seek(512)
        assert b.read(MiB - 512) == a.read(MiB - 512)


def test_filesystems_and_trees_are_the_same(images):
    source, target, _ = images
    with attached(source, read_only=True) as src, attached(target, read_only=True) as dst:
        for number, (_, label, fstype) in FILESYSTEMS.items():
            a, b = blkid_of(src.partition(number)), blkid_of(dst.partition(number))
            assert a["LABEL"] == label
            assert {k: a.get(k) for k in ("TYPE", "UUID", "LABEL")} == \
                   {k: b.get(k) for k in ("TYPE", "UUID", "LABEL")}
            if fstype is None:
                continue
            options = "ro,noload" if fstype != "ext2" else "ro"
            with mounted(src.partition(number), fstype, options) as x, \
                    mounted(dst.partition(number), fstype, options) as y:
                assert rsync_differences(x, y) == []
                assert len(os.listdir(y)) >= 20


def test_set_records_the_msdos_layout(images):
    _, _, set_dir = images
    data = json.loads(cli("inspect", str(set_dir), "--json").stdout)
    disk = data["disks"][0]
    assert disk["table"] == "msdos"
    assert [(p["number"], p["kind"]) for p in disk["partitions"]] == [
        (1, "primary"), (2, "primary"), (3, "extended"), (5, "logical"), (6, "logical")]
    mountpoints = {fs["label"]: fs["mountpoint"] for fs in data["filesystems"]}
    assert mountpoints == {"boot": "/boot", "swap": "", "root": "/", "home": "/home"}


def test_clone_onto_a_larger_disk_keeps_logicals_in_their_extended(images, tmp_path):
    source, _, set_dir = images
    large = tmp_path / "large.img"
    with open(large, "wb") as f:
        f.truncate(512 * MiB)
    proc = cli("restore", str(set_dir), "--map", f"{source}={large}", "--yes")
    assert proc.returncode == 0, proc.stderr
    table = _table(large)
    assert table["id"] == SIGNATURE
    parts = {p["node"]: p for p in table["partitions"]}
    assert sorted(parts) == ["1", "2", "3", "5", "6"]
    extended = parts["3"]
    for logical in ("5", "6"):
        start, size = parts[logical]["start"], parts[logical]["size"]
        # inside the extended partition, with room for its boot record before it
        assert extended["start"] < start and start + size <= extended["start"] + extended["size"]
    assert parts["6"]["start"] - (parts["5"]["start"] + parts["5"]["size"]) >= 1
    old = {p["node"]: p for p in _table(source)["partitions"]}
    assert parts["2"]["size"] == old["2"]["size"]  # swap keeps its size
    assert parts["5"]["size"] > old["5"]["size"] and parts["6"]["size"] > old["6"]["size"]
    assert parts["6"]["start"] + parts["6"]["size"] > 500 * MiB // 512  # the disk is used
    with open(source, "rb") as a, open(large, "rb") as b:
        assert b.read(440) == a.read(440)
    with attached(source, read_only=True) as src, attached(large, read_only=True) as dst:
        for number in (1, 5, 6):
            fstype = FILESYSTEMS[number][2]
            options = "ro,noload" if fstype != "ext2" else "ro"
            with mounted(src.partition(number), fstype, options) as x, \
                    mounted(dst.partition(number), fstype, options) as y:
                assert rsync_differences(x, y) == []


def test_a_damaged_boot_area_is_refused_before_writing(images, tmp_path):
    source, _, set_dir = images
    damaged = tmp_path / "set"
    shutil.copytree(set_dir, damaged)
    piece = next(damaged.glob("disk-1-bootarea.zst"))
    data = bytearray(piece.read_bytes())
    data[len(data) // 2] ^= 0xFF
    piece.write_bytes(bytes(data))
    target = tmp_path / "target.img"
    with open(target, "wb") as f:
        f.truncate(source.stat().st_size)
    proc = cli("restore", str(damaged), "--map", f"{source}={target}", "--yes")
    assert proc.returncode == 1
    assert "boot area" in proc.stderr and "does not match its BLAKE3" in proc.stderr
    assert target.stat().st_blocks == 0
