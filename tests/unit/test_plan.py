"""Plans as data and as text, built from a set description and targets, no disk touched."""

from __future__ import annotations

import json

import pytest

from console.core.backupset.manifest import BackupSet
from console.core.disks.discovery import TargetDisk
from console.core.errors import RestoreError
from console.core.layout import GPT_ESP, Archive, Disk, Filesystem, Partition, Piece
from console.core.planning.mapping import DiskMapping
from console.core.planning.plan import Plan, build_plan, describe_step, render
from console.core.planning.resize import Override, ResizePolicy
from console.core.planning.steps import (
    Finalize,
    MakeFilesystem,
    Mount,
    Restore,
    Verify,
    WriteImage,
)

MiB = 1024**2
GiB = 1024**3
LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
SWAP = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"


def archive(kind: str, size: int, members: int = 0) -> Archive:
    return Archive(kind=kind, pieces=[Piece("x.zst", 1, "00")], uncompressed_size=size,
                   members=members)


def two_disk_set() -> BackupSet:
    sda = Disk(name="/dev/sda", size=20 * GiB, logical_sector_size=512, physical_sector_size=512,
               table="gpt", disk_id="D15C", serial="SER-A", partitions=[
                   Partition(1, MiB, 512 * MiB, "primary", type_uuid=GPT_ESP, partuuid="p1"),
                   Partition(2, 513 * MiB, 15 * GiB, "primary", type_uuid=LINUX, partuuid="p2"),
                   Partition(3, 513 * MiB + 15 * GiB, 2 * GiB, "primary", type_uuid=SWAP)])
    sdb = Disk(name="/dev/sdb", size=10 * GiB, logical_sector_size=512, physical_sector_size=512,
               table="gpt", partitions=[Partition(1, MiB, 10 * GiB - 2 * MiB, "primary",
                                                  type_uuid=LINUX)])
    filesystems = [
        Filesystem(1, "/dev/sda", 1, "/dev/sda1", "vfat", "AAAA-BBBB", "EFI", "/boot/efi",
                   512 * MiB, 512 * MiB, archive=archive("raw", 512 * MiB)),
        Filesystem(2, "/dev/sda", 2, "/dev/sda2", "ext4", "u-root", "root", "/", 15 * GiB,
                   4 * GiB, archive=archive("tar", 4 * GiB, 1000)),
        Filesystem(3, "/dev/sda", 3, "/dev/sda3", "swap", "u-swap", "swap", "", 2 * GiB),
        Filesystem(4, "/dev/sdb", 1, "/dev/sdb1", "xfs", "u-home", "home", "/home",
                   10 * GiB, GiB, archive=archive("tar", GiB, 10)),
    ]
    return BackupSet(path="/media/set", set_id="set-1", created="2026-11-01", host="web01",
                     disks=[sda, sdb], filesystems=filesystems)


def target(path: str, size: int, **kw) -> TargetDisk:
    return TargetDisk(path=path, name=path.rsplit("/", 1)[-1], size=size, logical_sector_size=512,
                      physical_sector_size=512, alignment=MiB, **kw)


def test_steps_come_in_order_and_name_their_disk():
    plan = build_plan(two_disk_set(),
                      DiskMapping({"/dev/sda": "/dev/nvme0n1", "/dev/sdb": "/dev/sdc"},
                                  {"/dev/sda": "same serial (SER-A)"}),
                      [target("/dev/nvme0n1", 40 * GiB, model="Fast SSD", serial="SER-A"),
                       target("/dev/sdc", 10 * GiB)])
    actions = [(s.action, s.target) for s in plan.steps]
    assert actions == [
        ("wipe", "/dev/nvme0n1"), ("create-table", "/dev/nvme0n1"),
        ("create-partition", "/dev/nvme0n1"), ("create-partition", "/dev/nvme0n1"),
        ("create-partition", "/dev/nvme0n1"), ("set-identifiers", "/dev/nvme0n1"),
        ("write-image", "/dev/nvme0n1"), ("make-filesystem", "/dev/nvme0n1"),
        ("make-filesystem", "/dev/nvme0n1"),
        ("wipe", "/dev/sdc"), ("create-table", "/dev/sdc"), ("create-partition", "/dev/sdc"),
        ("set-identifiers", "/dev/sdc"), ("make-filesystem", "/dev/sdc"),
        # / before /home: the mount point of /home comes from the root's archive
        ("mount", "/dev/nvme0n1"), ("restore", "/dev/nvme0n1"),
        ("mount", "/dev/sdc"), ("restore", "/dev/sdc"), ("verify", ""),
        ("rewrite-references", ""), ("finalize", "")]
    # The same-size disk keeps the original geometry; the larger one is resized.
    assert plan.disks[1].layout.partitions == two_disk_set().disks[1].partitions
    root = plan.disks[0].layout.partition(2)
    assert root.size > 30 * GiB and root.partuuid == "p2"
    text = render(plan)
    assert "/dev/nvme0n1: 40.0 GiB (42,949,672,960 bytes), Fast SSD, serial SER-A" in text
    assert "receives original disk /dev/sda (same serial (SER-A))" in text
    assert "Make ext4 on partition 2" in text and "UUID u-root, label root" in text
    assert "Mount xfs /home (partition 1) at /home" in text


def test_a_plan_survives_json():
    plan = build_plan(two_disk_set(), DiskMapping({"/dev/sda": "/dev/vdb", "/dev/sdb": None}),
                      [target("/dev/vdb", 30 * GiB)])
    again = Plan.from_json(json.loads(json.dumps(plan.to_json())))
    assert again == plan
    assert render(again) == render(plan)


def test_an_unmapped_disk_is_said_and_left_out():
    plan = build_plan(two_disk_set(), DiskMapping({"/dev/sda": "/dev/vdb", "/dev/sdb": None}),
                      [target("/dev/vdb", 30 * GiB)])
    assert plan.unmapped == ["/dev/sdb"] and 4 not in plan.filesystems
    assert all(s.fs != 4 for s in plan.steps
               if isinstance(s, (MakeFilesystem, WriteImage, Mount, Restore)))
    assert all(4 not in s.fs for s in plan.steps if isinstance(s, Verify))
    assert "original disk /dev/sdb: not restored (no target)" in render(plan)


def test_without_the_root_filesystem_each_gets_a_mount_of_its_own():
    plan = build_plan(two_disk_set(), DiskMapping({"/dev/sda": None, "/dev/sdb": "/dev/vdc"}),
                      [target("/dev/vdc", 10 * GiB)])
    mount = next(s for s in plan.steps if isinstance(s, Mount))
    assert mount.mountpoint == ""
    assert describe_step(plan, mount) == "Mount xfs /home (partition 1) at a mount of its own"
    assert plan.steps[-1] == Finalize(log=False)
    assert plan.steps[-1].to_json()["detail"] == {"log": False}


def test_an_image_that_would_not_fit_is_refused():
    policies = {"/dev/sda": ResizePolicy(overrides={1: Override("size", 256 * MiB)})}
    with pytest.raises(RestoreError, match="a raw image .a byte copy. cannot shrink"):
        build_plan(two_disk_set(), DiskMapping({"/dev/sda": "/dev/vdb"}),
                   [target("/dev/vdb", 30 * GiB)], policies)


def test_a_mapping_without_any_target_is_refused():
    with pytest.raises(RestoreError, match="nothing to restore"):
        build_plan(two_disk_set(), DiskMapping({"/dev/sda": None, "/dev/sdb": None}), [])


def test_a_plan_of_another_format_is_refused():
    plan = build_plan(two_disk_set(), DiskMapping({"/dev/sdb": "/dev/vdc"}),
                      [target("/dev/vdc", 10 * GiB)])
    data = plan.to_json()
    data["format"] = 99
    with pytest.raises(RestoreError, match="format 99"):
        Plan.from_json(data)
