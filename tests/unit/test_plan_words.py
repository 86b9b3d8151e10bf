"""The plan in an operator's words: what happens to the boot loader, partitions named by what
they are (not "raw /dev/sda1" or "swap swap"), a partition held at its floor said as "kept at
its data + 10%"."""

from __future__ import annotations

from console.core.backupset.manifest import BackupSet
from console.core.layout import GPT_BIOS_BOOT, Disk, Filesystem, Partition
from console.core.planning.mapping import DiskMapping
from console.core.planning.plan import build_plan, render
from console.core.planning.resize import describe_resize, resize_disk
from tests.unit.test_plan import LINUX, SWAP, GiB, MiB, archive, target, two_disk_set

DEMO = "/var/tmp/restore-console-demo/source-disk.img"


def demo_like_set() -> BackupSet:
    """The demo's layout: GPT with a BIOS boot partition saved as an image (no filesystem), ext4
    / and /home, swap labelled "swap"; named by its image file's path, as the demo's set is."""
    disk = Disk(name=DEMO, size=256 * MiB, logical_sector_size=512, physical_sector_size=512,
                table="gpt", partitions=[
                    Partition(1, MiB, MiB, "primary", ["bios_grub"], type_uuid=GPT_BIOS_BOOT),
                    Partition(2, 2 * MiB, 150 * MiB, "primary", type_uuid=LINUX),
                    Partition(3, 152 * MiB, 70 * MiB, "primary", type_uuid=LINUX),
                    Partition(4, 222 * MiB, 32 * MiB, "primary", ["swap"], type_uuid=SWAP)])
    filesystems = [
        Filesystem(1, DEMO, 1, f"{DEMO}:1", "", size=MiB, bytes_used=MiB,
                   archive=archive("raw", MiB)),
        Filesystem(2, DEMO, 2, f"{DEMO}:2", "ext4", "u-root", "root", "/", 150 * MiB,
                   20 * MiB, archive=archive("tar", 20 * MiB, 10)),
        Filesystem(3, DEMO, 3, f"{DEMO}:3", "ext4", "u-home", "home", "/home", 70 * MiB,
                   2 * MiB, archive=archive("tar", 2 * MiB, 3)),
        Filesystem(4, DEMO, 4, f"{DEMO}:4", "swap", "u-swap", "swap", "", 32 * MiB)]
    return BackupSet(path="/media/set", set_id="set-1", created="2026-11-01", host="demo",
                     disks=[disk], filesystems=filesystems)


def test_the_plan_says_what_happens_to_the_boot_loader_of_a_gpt_disk_booted_by_bios():
    plan = build_plan(demo_like_set(), DiskMapping({DEMO: "/dev/sdb"}),
                      [target("/dev/sdb", 512 * MiB)])
    text = render(plan)
    boot = text.split("Boot loader:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert boot == [
        "  /dev/sdb: the BIOS boot partition (1) is copied as it was; the boot code of the "
        "first sector is not in the set (a GPT disk): BIOS cannot start grub from this disk "
        "until grub-install is run",
        "  Grub's files in /boot come back with the filesystem that holds them.",
        "  Step 17: references to disks that changed are rewritten (device paths become "
        "UUID=); each change goes to the log.",
        "  The set found no boot loader on its disks: none is installed.",
        "  The initramfs is not rebuilt (--rebuild-initramfs rebuilds it, for disks on another "
        "kind of controller)."]
    assert text.index("Boot loader:") < text.index("Steps:")


def test_the_plan_says_an_msdos_boot_area_and_an_efi_partition_are_copied():
    backup_set = two_disk_set()  # /dev/sda: GPT with an EFI system partition saved as an image
    backup_set.disks[1].table = "msdos"
    backup_set.disks[1].boot_area = archive("raw", MiB)
    plan = build_plan(backup_set, DiskMapping({"/dev/sda": "/dev/vdb", "/dev/sdb": "/dev/vdc"}),
                      [target("/dev/vdb", 30 * GiB), target("/dev/vdc", 10 * GiB)])
    text = render(plan)
    assert "  /dev/vdb: the EFI system partition (1) is copied as it was\n" in text
    assert "  /dev/vdc: the MBR boot code and the gap up to the first partition are copied as " \
           "they were\n" in text
    assert "The set found no boot loader on its disks: none is installed." in text


def test_partitions_are_named_by_what_they_are():
    plan = build_plan(demo_like_set(), DiskMapping({DEMO: "/dev/sdb"}),
                      [target("/dev/sdb", 512 * MiB)])
    text = render(plan)
    labels = [d.label for d in plan.disks[0].resized.decisions]
    assert labels == ["BIOS boot partition, copied as is", "ext4 /", "ext4 /home", "swap"]
    assert "Write partition 1 back from its saved image: BIOS boot partition, copied as is" \
        in text
    assert "swap swap" not in text and "raw " not in text and f"{DEMO}:1" not in text


def test_a_partition_held_at_its_floor_is_kept_at_its_data_and_a_tenth():
    from console.core.planning.resize import rule_words
    backup_set = demo_like_set()
    disk = backup_set.disks[0]
    resized = resize_disk(disk, backup_set.filesystems, 200 * MiB)
    home = resized.decision(3)  # its share of 200 MiB would be less than its data needs
    assert home.rule == "floored"  # the plan's saved name for it, never shown
    assert rule_words(home) == "kept at its data + 10%"
    line = next(line for line in describe_resize(resized) if " ext4 /home " in line)
    assert line.endswith("kept at its data + 10%: 2.0 MiB used × 1.1 + 64.0 MiB slack")
    assert "floor" not in "\n".join(describe_resize(resized))
