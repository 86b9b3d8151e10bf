"""Writes plan-format-1.json and plan-format-1.txt beside this file: a saved plan and its
rendering, as the code of commit c37f77d made them (run once on that commit, before the plan's
steps were typed). The tests load the file and require the same JSON and the same text back, so
that plans saved by earlier consoles keep loading and reading the same. (The .txt's two target
lines were changed since, on purpose, when sizes became IEC units with grouped bytes.)

The set (`backup_set()`) is also what the tests use to compute the plan's totals:
/dev/sda: GPT, 40 GiB: BIOS boot, ext4 /, ext4 /home, swap, xfs /srv; restored onto a 64 GiB
disk, so it is resized;
/dev/sdb: msdos, 8 GiB, with a boot area: a vfat saved as a raw image, an extended partition
with an ext4 /var/log in a logical one; restored onto a disk of the same size;
/dev/sdc: left out (no target).

Run from the repository root: PYTHONPATH=$PWD python tests/unit/data/make_plan_format_1.py
"""

from __future__ import annotations

import json
import os

from console.core.backupset.manifest import BackupSet
from console.core.disks.discovery import TargetDisk
from console.core.layout import GPT_BIOS_BOOT, Archive, Disk, Filesystem, Partition, Piece
from console.core.planning.mapping import DiskMapping

MiB = 1024**2
GiB = 1024**3
LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
SWAP = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
HERE = os.path.dirname(os.path.abspath(__file__))


def _archive(kind: str, file: str, size: int, members: int = 0) -> Archive:
    return Archive(kind=kind, pieces=[Piece(file, size // 3, "ab" * 32)],
                   uncompressed_size=size, members=members)


def backup_set() -> BackupSet:
    sda = Disk(name="/dev/sda", size=40 * GiB, logical_sector_size=512,
               physical_sector_size=4096, table="gpt",
               disk_id="8F3A2C1E-5B6D-4E7F-9A0B-1C2D3E4F5A6B", model="WDC WD400", serial="WD-1",
               partitions=[
                   Partition(1, MiB, MiB, "primary", flags=["bios_grub"], type_uuid=GPT_BIOS_BOOT,
                             partuuid="11111111-0000-4000-8000-000000000001"),
                   Partition(2, 2 * MiB, 20 * GiB, "primary", name="root", type_uuid=LINUX,
                             partuuid="11111111-0000-4000-8000-000000000002"),
                   Partition(3, 2 * MiB + 20 * GiB, 10 * GiB, "primary", name="home",
                             type_uuid=LINUX, partuuid="11111111-0000-4000-8000-000000000003"),
                   Partition(4, 2 * MiB + 30 * GiB, 2 * GiB, "primary", type_uuid=SWAP,
                             partuuid="11111111-0000-4000-8000-000000000004"),
                   Partition(5, 2 * MiB + 32 * GiB, 8 * GiB - 3 * MiB, "primary", name="srv",
                             type_uuid=LINUX, partuuid="11111111-0000-4000-8000-000000000005")])
    sdb = Disk(name="/dev/sdb", size=8 * GiB, logical_sector_size=512, physical_sector_size=512,
               table="msdos", disk_id="0x5eed1234", model="USB DISK", serial="U-2",
               partitions=[
                   Partition(1, MiB, 256 * MiB, "primary", flags=["boot"], type_id=0x0C),
                   Partition(2, 257 * MiB, 8 * GiB - 258 * MiB, "extended", type_id=0x05),
                   Partition(5, 258 * MiB, 8 * GiB - 259 * MiB, "logical", type_id=0x83)],
               boot_area=_archive("raw", "disk-2-bootarea.zst", MiB))
    sdc = Disk(name="/dev/sdc", size=4 * GiB, logical_sector_size=512, physical_sector_size=512,
               table="gpt", partitions=[Partition(1, MiB, 4 * GiB - 2 * MiB, "primary",
                                                  type_uuid=LINUX)])
    filesystems = [
        Filesystem(1, "/dev/sda", 2, "/dev/sda2", "ext4", "6e1c0a3b-root", "root", "/", 20 * GiB,
                   6 * GiB, mkfs={"features": ["has_journal", "extent"]},
                   archive=_archive("tar", "fs-1.tar.zst", 6 * GiB, 184_312)),
        Filesystem(2, "/dev/sda", 3, "/dev/sda3", "ext4", "6e1c0a3b-home", "home", "/home",
                   10 * GiB, 3 * GiB, archive=_archive("tar", "fs-2.tar.zst", 3 * GiB, 42_001)),
        Filesystem(3, "/dev/sda", 4, "/dev/sda4", "swap", "6e1c0a3b-swap", "", "", 2 * GiB),
        Filesystem(4, "/dev/sda", 5, "/dev/sda5", "xfs", "6e1c0a3b-srv", "srv", "/srv",
                   8 * GiB - 3 * MiB, 2 * GiB,
                   archive=_archive("tar", "fs-4.tar.zst", 2 * GiB, 1_234)),
        Filesystem(5, "/dev/sdb", 1, "/dev/sdb1", "vfat", "1A2B-3C4D", "FIRMWARE", "",
                   256 * MiB, 40 * MiB, archive=_archive("raw", "fs-5.img.zst", 256 * MiB)),
        Filesystem(6, "/dev/sdb", 5, "/dev/sdb5", "ext4", "6e1c0a3b-log", "log", "/var/log",
                   8 * GiB - 259 * MiB, 700 * MiB,
                   archive=_archive("tar", "fs-6.tar.zst", 700 * MiB, 5_120)),
        Filesystem(7, "/dev/sdc", 1, "/dev/sdc1", "ext4", "6e1c0a3b-tmp", "scratch", "/scratch",
                   4 * GiB - 2 * MiB, MiB, archive=_archive("tar", "fs-7.tar.zst", MiB, 3)),
    ]
    return BackupSet(path="/media/backup/web01-set", set_id="0d5c7a52-3b1e-4f0e-9a55-7e2b1c9d4f60",
                     created="2026-11-01T03:00:12+00:00", host="web01", disks=[sda, sdb, sdc],
                     filesystems=filesystems)


def targets() -> list[TargetDisk]:
    return [TargetDisk(path="/dev/nvme0n1", name="nvme0n1", size=64 * GiB,
                       logical_sector_size=512, physical_sector_size=4096, alignment=MiB,
                       model="Samsung SSD 980", serial="S64ANS0T123456", wwn="eui.002538b111b2c3d4",
                       rotational=False, transport="nvme",
                       sys_path="/sys/devices/pci0000:00/0000:00:1d.0/nvme/nvme0/nvme0n1"),
            TargetDisk(path="/dev/sdd", name="sdd", size=8 * GiB, logical_sector_size=512,
                       physical_sector_size=512, alignment=MiB, model="Ultra Fit",
                       serial="4C530001", removable=True, rotational=False, transport="usb",
                       sys_path="/sys/devices/pci0000:00/usb2/2-1/block/sdd")]


def mapping() -> DiskMapping:
    return DiskMapping({"/dev/sda": "/dev/nvme0n1", "/dev/sdb": "/dev/sdd", "/dev/sdc": None},
                       {"/dev/sda": "given with --map", "/dev/sdb": "same size",
                        "/dev/sdc": "left out with --map"})


def main() -> None:
    from console.core.planning.plan import build_plan, render

    plan = build_plan(backup_set(), mapping(), targets())
    with open(os.path.join(HERE, "plan-format-1.json"), "w") as f:
        json.dump(plan.to_json(), f, indent=1)
        f.write("\n")
    with open(os.path.join(HERE, "plan-format-1.txt"), "w") as f:
        f.write(render(plan) + "\n")


if __name__ == "__main__":
    main()
