"""Resized layouts are written by write_table exactly as computed (checked with sfdisk --json)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from console.core.disks.partition_table import write_table
from console.core.layout import GPT_BIOS_BOOT, GPT_ESP, Archive, Disk, Filesystem, Partition
from console.core.planning.resize import Override, ResizePolicy, resize_disk
from tests.system.images import TYPE_LINUX, sfdisk_json

pytestmark = [pytest.mark.system,
              pytest.mark.skipif(shutil.which("sfdisk") is None, reason="needs sfdisk")]

MiB = 1024 * 1024
GiB = 1024 * MiB
S = 512


def tar_fs(disk: str, number: int, used: int, mountpoint: str) -> Filesystem:
    return Filesystem(id=number, disk=disk, partition=number, device=f"{disk}{number}",
                      type="ext4", mountpoint=mountpoint, bytes_used=used,
                      archive=Archive("tar", [], used))


def msdos_source() -> tuple[Disk, list[Filesystem]]:
    """Old-style layout: 63-sector starts, logicals packed tight, swap as the last logical."""
    disk = Disk("/dev/sdb", 10 * GiB, S, S, "msdos", disk_id="0x1234abcd", partitions=[
        Partition(1, 63 * S, 4 * GiB, "primary", flags=["boot"], type_id=0x83),
        Partition(2, 63 * S + 4 * GiB, 6 * GiB - 63 * S, "extended", type_id=0x05),
        Partition(5, 126 * S + 4 * GiB, 2 * GiB, "logical", type_id=0x83),
        Partition(6, 189 * S + 6 * GiB, GiB, "logical", type_id=0x83),
        Partition(7, 252 * S + 7 * GiB, 3 * GiB - 252 * S, "logical", type_id=0x82),
    ])
    filesystems = [tar_fs(disk.name, 1, GiB, "/"), tar_fs(disk.name, 5, GiB, "/home"),
                   tar_fs(disk.name, 6, GiB, "/srv"),
                   Filesystem(id=7, disk=disk.name, partition=7, device="/dev/sdb7", type="swap")]
    return disk, filesystems


def gpt_source() -> tuple[Disk, list[Filesystem]]:
    """ESP, root, and a BIOS boot partition at the very end."""
    disk = Disk("/dev/sda", 8 * GiB, S, S, "gpt", disk_id="6B1A0B55-0000-4000-8000-000000000001",
                partitions=[
        Partition(1, MiB, 512 * MiB, "primary", flags=["boot", "esp"], name="EFI",
                  type_uuid=GPT_ESP, partuuid="00000000-0000-4000-8000-000000000001"),
        Partition(2, 513 * MiB, 8 * GiB - 515 * MiB, "primary", name="root", type_uuid=TYPE_LINUX,
                  partuuid="00000000-0000-4000-8000-000000000002"),
        Partition(3, 8 * GiB - 2 * MiB, MiB, "primary", flags=["bios_grub"],
                  type_uuid=GPT_BIOS_BOOT, partuuid="00000000-0000-4000-8000-000000000003"),
    ])
    return disk, [tar_fs(disk.name, 2, GiB, "/")]


CASES = [
    ("msdos grown", msdos_source, 20 * GiB, ResizePolicy()),
    ("msdos shrunk", msdos_source, 7 * GiB, ResizePolicy()),
    ("msdos grow-last", msdos_source, 20 * GiB, ResizePolicy(mode="grow-last")),
    ("msdos rest, 4 MiB", msdos_source, 12 * GiB,
     ResizePolicy(alignment=4 * MiB, overrides={6: Override("rest")})),
    ("gpt grown", gpt_source, 32 * GiB, ResizePolicy()),
    ("gpt shrunk, odd size", gpt_source, 3 * GiB + 12345 * S, ResizePolicy()),
]


@pytest.mark.parametrize("name,source,target,policy", CASES, ids=[c[0] for c in CASES])
def test_resized_layout_is_written_as_computed(tmp_path: Path, name, source, target, policy):
    disk, filesystems = source()
    resized = resize_disk(disk, filesystems, target, policy)
    image = tmp_path / "target.img"
    with open(image, "wb") as f:
        f.truncate(target)
    write_table(str(image), resized.disk)
    table = sfdisk_json(image)["partitiontable"]
    assert table["label"] == ("dos" if disk.table == "msdos" else "gpt")
    found = {int(p["node"].removeprefix(str(image))): (p["start"] * S, p["size"] * S)
             for p in table["partitions"]}
    assert found == {p.number: (p.start, p.size) for p in resized.disk.partitions}
    if disk.table == "gpt":
        types = {int(p["node"].removeprefix(str(image))): p["type"] for p in table["partitions"]}
        assert types == {p.number: p.type_uuid for p in resized.disk.partitions}
