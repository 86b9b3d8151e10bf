"""Target discovery on fake sysfs trees: identity with and without udev, usage, skipping."""

from __future__ import annotations

import pytest

from console.core.disks.discovery import (
    BlockRecord,
    TargetDisk,
    alignment_for,
    discover_targets,
    image_target,
    normalize_wwn,
    sysfs_disks,
)
from console.core.errors import RestoreError
from tests.unit.fakesys import FakeSys

GB = 1000**3
MiB = 1024 * 1024
ATA = "devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda"
USB = ("devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb")
NVME = "devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1"


def vpd_serial(serial: str) -> bytes:
    """A unit serial number VPD page as the kernel exposes it (device/vpd_pg80)."""
    data = serial.encode()
    return bytes([0, 0x80]) + len(data).to_bytes(2, "big") + data


@pytest.fixture
def fake(tmp_path):
    return FakeSys(tmp_path)


def add_ata_disk(fake: FakeSys, **extra) -> None:
    fake.add_disk("sda", "8:0", 500107862016, at=ATA,
                  attrs={"queue/physical_block_size": "4096", "queue/rotational": "1"},
                  device={"model": "ST500DM002-1BD14", "vendor": "ATA     ",
                          "vpd_pg80": vpd_serial("            Z3T5ABCD"),
                          "wwid": "naa.5000c500a1b2c3d4"},
                  partitions={"sda1": ("8:1", 512 * MiB), "sda2": ("8:2", 100 * GB)}, **extra)


def only(targets: list[TargetDisk], name: str) -> TargetDisk:
    [found] = [t for t in targets if t.name == name]
    return found


def test_sata_disk_without_udev_reads_sysfs(fake):
    add_ata_disk(fake)
    [disk] = discover_targets(None, host=fake.host)
    assert (disk.path, disk.name, disk.size) == ("/dev/sda", "sda", 500107862016)
    assert (disk.logical_sector_size, disk.physical_sector_size) == (512, 4096)
    assert disk.model == "ST500DM002-1BD14"
    assert disk.serial == "Z3T5ABCD"  # from the VPD page, padding dropped
    assert disk.wwn == "naa.5000c500a1b2c3d4"
    assert disk.transport == "ata"
    assert disk.rotational is True and not disk.removable and not disk.read_only
    assert disk.alignment == MiB
    assert disk.problems() == []
    assert disk.title() == "sda: 465.8 GiB ST500DM002-1BD14 (serial Z3T5ABCD)"


def test_udev_properties_win_over_sysfs(fake):
    add_ata_disk(fake)
    record = BlockRecord(str(fake.sys / "block/sda"), {
        "DEVNAME": "/dev/sda", "ID_MODEL": "ST500DM002-1BD142",
        "ID_MODEL_ENC": "ST500DM002-1BD142\\x20\\x20\\x20", "ID_SERIAL_SHORT": "Z3T5ABCD",
        "ID_SERIAL": "ST500DM002-1BD142_Z3T5ABCD", "ID_WWN": "0x5000c500a1b2c3d4",
        "ID_BUS": "ata"})
    [disk] = discover_targets(None, host=fake.host, records=[record])
    assert disk.model == "ST500DM002-1BD142"  # the full model, not the 16 bytes of sysfs
    assert disk.serial == "Z3T5ABCD"
    assert disk.wwn == "0x5000c500a1b2c3d4"
    assert normalize_wwn(disk.wwn) == normalize_wwn("naa.5000c500a1b2c3d4")


def test_udev_model_without_encoding_has_spaces_back(fake):
    fake.add_disk("sdc", "8:32", 8 * GB)
    record = BlockRecord(str(fake.sys / "block/sdc"), {"ID_MODEL": "Ultra_Fit", "ID_BUS": "usb"})
    [disk] = discover_targets(None, host=fake.host, records=[record])
    assert (disk.model, disk.transport) == ("Ultra Fit", "usb")


def test_nvme_names_identity_and_partitions(fake):
    fake.add_disk("nvme0n1", "259:0", 1024209543168, at=NVME,
                  attrs={"wwid": "eui.0025388b91b4ab2c", "queue/rotational": "0",
                         "queue/optimal_io_size": str(4 * MiB)},
                  device={"model": "Samsung SSD 970 EVO Plus 1TB", "serial": "S4EWNX0N123456A"},
                  partitions={"nvme0n1p1": ("259:1", 512 * MiB), "nvme0n1p2": ("259:2", 10 * GB)})
    fake.mount("259:2", "/mnt/old root", "/dev/nvme0n1p2")
    [disk] = discover_targets(None, host=fake.host)
    assert disk.name == "nvme0n1" and disk.path == "/dev/nvme0n1"
    assert disk.model == "Samsung SSD 970 EVO Plus 1TB"
    assert disk.serial == "S4EWNX0N123456A"
    assert normalize_wwn(disk.wwn) == "0025388b91b4ab2c"
    assert disk.transport == "nvme" and disk.rotational is False
    assert disk.alignment == 4 * MiB and disk.optimal_io_size == 4 * MiB
    assert disk.mounted == ["/dev/nvme0n1p2 is mounted at /mnt/old root"]
    assert disk.problems() == ["in use: /dev/nvme0n1p2 is mounted at /mnt/old root"]


def test_removable_read_only_usb_stick(fake):
    fake.add_disk("sdb", "8:16", 16 * GB, at=USB, attrs={"removable": "1", "ro": "1"},
                  device={"model": "Cruzer Blade    "})
    [disk] = discover_targets(None, host=fake.host)
    assert disk.removable and disk.read_only
    assert disk.transport == "usb"
    assert disk.model == "Cruzer Blade"
    assert disk.problems() == ["read-only"]


def test_mounted_partition_and_swap_make_the_disk_in_use(fake):
    add_ata_disk(fake)
    fake.add_disk("sdc", "8:32", 2000 * GB, partitions={"sdc1": ("8:33", 4 * GB)})
    fake.add_disk("sdd", "8:48", 2000 * GB, partitions={"sdd1": ("8:49", 4 * GB)})
    fake.mount("8:2", "/mnt", "/dev/sda2")
    fake.swap_on("/dev/sdc1")
    targets = discover_targets(None, host=fake.host)
    assert only(targets, "sda").mounted == ["/dev/sda2 is mounted at /mnt"]
    assert only(targets, "sdc").mounted == ["/dev/sdc1 is active swap"]
    assert only(targets, "sdc").problems() == ["in use: /dev/sdc1 is active swap"]
    assert only(targets, "sdd").problems() == []


def test_btrfs_mount_is_found_by_its_source(fake):
    # btrfs reports an anonymous device number (0:N): the source names the partition.
    fake.add_disk("sde", "8:64", 1000 * GB, partitions={"sde1": ("8:65", 900 * GB)})
    fake.mount("0:47", "/srv", "/dev/sde1", fstype="btrfs")
    [disk] = discover_targets(None, host=fake.host)
    assert disk.mounted == ["/dev/sde1 is mounted at /srv"]


def test_holders_count_as_in_use_and_mounts_reach_through_them(fake):
    fake.add_disk("sdc", "8:32", 1000 * GB, partitions={"sdc1": ("8:33", GB),
                                                       "sdc2": ("8:34", 900 * GB)})
    fake.hold("sdc2", "dm-0", "253:0", 900 * GB, "vg-root")
    fake.mount("253:0", "/data", "/dev/mapper/vg-root")
    [disk] = discover_targets(None, host=fake.host)  # dm-0 itself is not a target
    assert disk.name == "sdc"
    assert disk.holders == ["sdc2 is held by dm-0 (vg-root)"]
    assert disk.mounted == ["/dev/mapper/vg-root is mounted at /data"]
    assert "in use: sdc2 is held by dm-0 (vg-root)" in disk.problems()


def test_disk_holding_the_set_and_disk_holding_the_system(fake):
    add_ata_disk(fake)
    fake.add_disk("sdb", "8:16", 64 * GB, at=USB, partitions={"sdb1": ("8:17", 64 * GB)})
    fake.add_disk("sdc", "8:32", 1000 * GB)
    fake.mount("8:2", "/", "/dev/sda2")
    fake.mount("8:17", "/media/usb", "/dev/sdb1", fstype="vfat")
    targets = discover_targets("/media/usb/sets/host1", host=fake.host)
    sda, sdb, sdc = (only(targets, n) for n in ("sda", "sdb", "sdc"))
    assert sda.holds_system and not sda.holds_media
    assert sdb.holds_media and not sdb.holds_system
    assert sdb.problems()[0] == "holds the backup set being restored"
    assert not sdc.holds_media and not sdc.holds_system and sdc.problems() == []


def test_set_in_an_image_file_is_held_by_the_disk_under_the_file(fake, tmp_path):
    # The set is on loop0p1; loop0's file lies on sdb1: sdb holds the set too.
    fake.add_disk("sdb", "8:16", 64 * GB, partitions={"sdb1": ("8:17", 64 * GB)})
    fake.add_disk("sdc", "8:32", 64 * GB)
    fake.add_disk("loop0", "7:0", 4 * GB, attrs={"loop/backing_file": "/media/usb/sets.img"},
                  partitions={"loop0p1": ("259:9", 4 * GB)})
    fake.mount("8:17", "/media/usb", "/dev/sdb1")
    fake.mount("259:9", "/media/sets", "/dev/loop0p1")
    targets = discover_targets("/media/sets/host1", host=fake.host)
    assert only(targets, "sdb").holds_media
    assert only(targets, "loop0").holds_media
    assert not only(targets, "sdc").holds_media
    assert "loop device of /media/usb/sets.img" in only(targets, "loop0").title()


def test_devices_that_are_not_targets_are_skipped(fake):
    fake.add_disk("ram0", "1:0", 16 * MiB)
    fake.add_disk("zram0", "252:0", 4 * GB)
    fake.add_disk("loop1", "7:1", 0)  # free loop device
    fake.add_disk("loop2", "7:2", 8 * GB, attrs={"loop/backing_file": "/srv/vm.img"})
    fake.add_disk("sr0", "11:0", 700 * 1000**2)
    fake.add_disk("sdz", "65:144", 0, attrs={"removable": "1"})  # card reader, no card
    fake.add_disk("nvme0c0n1", "259:5", 10 * GB, attrs={"hidden": "1"})
    fake.add_disk("sda", "8:0", 10 * GB)
    assert [t.name for t in discover_targets(None, host=fake.host)] == ["loop2", "sda"]


def test_names_sort_naturally(fake):
    for name, number in (("sdaa", "65:160"), ("sdb", "8:16"), ("nvme0n10", "259:10"),
                         ("nvme0n2", "259:2"), ("sda", "8:0")):
        fake.add_disk(name, number, GB)
    names = [t.name for t in discover_targets(None, host=fake.host)]
    assert names == ["nvme0n2", "nvme0n10", "sda", "sdaa", "sdb"]


def test_missing_attributes_are_optional(fake):
    sysdir = fake.add_disk("vdb", "253:16", 20 * GB)
    for attr in ("ro", "removable", "queue", "alignment_offset"):
        path = sysdir / attr
        if path.is_dir():
            for child in path.iterdir():
                child.unlink()
            path.rmdir()
        else:
            path.unlink()
    [disk] = sysfs_disks(fake.host)
    [target] = discover_targets(None, host=fake.host, records=[disk])
    assert (target.logical_sector_size, target.physical_sector_size) == (512, 512)
    assert target.rotational is None and target.model == target.serial == target.wwn == ""
    assert target.problems() == []


@pytest.mark.parametrize("optimal, physical, expected", [
    (0, 512, MiB), (4096, 4096, MiB), (512 * 1024, 4096, MiB), (4 * MiB, 4096, 4 * MiB),
    (768 * 1024, 4096, 3 * MiB),  # a three-disk stripe of 256 KiB chunks
    (33553920, 4096, MiB),  # 32 MiB - 512 from a USB bridge: not whole physical sectors
    (255 * MiB, 512, MiB),  # absurdly large
])
def test_alignment(optimal, physical, expected):
    assert alignment_for(optimal, physical) == expected


def test_image_file_target(fake, tmp_path):
    image = tmp_path / "disk.img"
    with open(image, "wb") as f:
        f.truncate(3 * GB)
    target = image_target(str(image), None, fake.host)
    assert (target.path, target.name, target.size) == (str(image), "disk.img", 3 * GB)
    assert target.is_image and target.logical_sector_size == 512 and target.alignment == MiB
    assert target.problems() == []
    assert target.title() == f"disk.img: 2.8 GiB image file {image}"


def test_image_file_in_use_through_its_loop_device(fake, tmp_path):
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * 4096)
    fake.add_disk("loop4", "7:4", 4096, attrs={"loop/backing_file": str(image)},
                  partitions={"loop4p1": ("259:4", 2048)})
    fake.mount("259:4", "/mnt/img", "/dev/loop4p1")
    targets = discover_targets(None, [str(image)], host=fake.host)
    # The named image stands for its loop device, which is not listed a second time.
    assert [t.name for t in targets] == ["disk.img"]
    assert targets[0].mounted == ["/dev/loop4p1 is mounted at /mnt/img"]


def test_image_inside_the_set_holds_the_set(fake, tmp_path):
    (tmp_path / "set").mkdir()
    image = tmp_path / "set" / "fs-1.tar.zst"
    image.write_bytes(b"x")
    assert image_target(str(image), str(tmp_path / "set"), fake.host).holds_media


def test_missing_image_is_refused(fake, tmp_path):
    with pytest.raises(RestoreError, match="does not exist"):
        discover_targets(None, [str(tmp_path / "nope.img")], host=fake.host)


def test_to_json_carries_the_problems(fake):
    fake.add_disk("sdb", "8:16", GB, attrs={"ro": "1"})
    [disk] = discover_targets(None, host=fake.host)
    data = disk.to_json()
    assert data["size"] == GB and data["problems"] == ["read-only"] and data["name"] == "sdb"


def test_loop_devices_of_one_file_share_their_use(fake, tmp_path):
    # Where the kernel does not scan loop partitions, each partition is a loop device of its
    # own with an offset: the whole-disk loop device is in use when that one is mounted.
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * 8192)
    fake.add_disk("loop1", "7:1", 8192, attrs={"loop/backing_file": str(image)})
    fake.add_disk("loop2", "7:2", 4096, attrs={"loop/backing_file": str(image)})
    fake.add_disk("loop3", "7:3", 4096, attrs={"loop/backing_file": str(tmp_path / "other")})
    (tmp_path / "other").write_bytes(b"\0" * 4096)
    fake.mount("7:2", "/mnt/part", "/dev/loop2")
    targets = discover_targets(None, host=fake.host)
    assert only(targets, "loop1").mounted == ["/dev/loop2 is mounted at /mnt/part"]
    assert only(targets, "loop3").mounted == []
