"""The start screen's words: the set's creation time and every partition of its disks."""

from __future__ import annotations

from pathlib import Path

from console.core.backupset.manifest import load_set
from console.tui.screens.common import disk_title
from console.tui.screens.start import partition_lines, when

# A GPT disk of four partitions, the BIOS boot partition first (the stage's set).
WEB01 = Path(__file__).parent.parent / "functional" / "data" / "web-01"


def test_when_reads_the_manifest_time():
    assert when("2026-03-14T02:30:00+00:00") == "2026-03-14 02:30 UTC"
    assert when("2026-03-14T02:30:00") == "2026-03-14 02:30"
    assert when("yesterday") == "yesterday"


def test_every_partition_is_listed_the_bios_boot_partition_first_and_named():
    backup_set = load_set(str(WEB01))
    sda = backup_set.disks[0]
    assert disk_title(sda).startswith("Disk sda: 40.0 GiB, GPT, 4 partitions")
    lines = partition_lines(backup_set, sda)
    assert [" ".join(line.split()) for line in lines] == [
        "1 BIOS boot partition 1.0 MiB, saved as an image",
        "2 ext4 / 30.0 GiB, 6.2 GiB used, 182,345 entries, label root",
        "3 swap 2.0 GiB",
        "4 ext4 /home 8.0 GiB, 3.1 GiB used, 40,211 entries, label home",
    ]
    assert all(len(line) <= 78 for line in lines)  # 80 columns less the padding


def test_a_partition_the_set_holds_nothing_of_says_so():
    backup_set = load_set(str(WEB01))
    sda = backup_set.disks[0]
    backup_set.filesystems = [fs for fs in backup_set.filesystems if fs.partition != 4]
    assert " ".join(partition_lines(backup_set, sda)[3].split()) == \
        "4 partition 4 8.0 GiB, not in the set"
