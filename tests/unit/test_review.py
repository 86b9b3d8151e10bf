"""The review text and the totals, from a real manifest (tests/functional/data/web-01)."""

from __future__ import annotations

from pathlib import Path

from console.core.backupset import load_set
from console.core.review import restore_totals, review_text, when

WEB01 = str(Path(__file__).parent.parent / "functional" / "data" / "web-01")
GiB = 1024 ** 3
MiB = 1024 ** 2


def test_review_names_every_partition_and_what_happens_to_it():
    backup_set = load_set(WEB01)
    text = review_text(backup_set, {"/dev/sda": "/dev/sdx"}, {"/dev/sdx": "sdx  40.0 GiB  ACME"})
    lines = text.splitlines()
    assert lines[0] == "Restore of the backup of web-01, made 2026-03-14 02:30 UTC"
    assert "  onto sdx  40.0 GiB  ACME" in lines
    assert "  EVERYTHING ON IT IS OVERWRITTEN." in lines
    assert "write the GPT table with 4 partitions," in text
    assert "     1: 1.0 MiB at 1.0 MiB, BIOS boot partition:" in lines
    assert "        written from its image in the set (1.0 MiB)" in lines
    assert "        new swap (UUID 8e84e6b2-4bc2-4f0d-8c58-96fb0060251f, label swap)" in lines
    assert "        new ext4 mounted at /home," in lines
    assert "        then 40,211 files restored (3.3 GiB of archive, 3.1 GiB used)" in lines
    # The disk left out is named; its filesystem is not in the steps.
    assert "Not restored: original disk /dev/sdb (no target chosen)." in lines
    assert "/srv" not in text
    assert lines[-1] == "Nothing has been written yet."


def test_review_uses_the_target_path_without_a_title():
    text = review_text(load_set(WEB01), {"/dev/sdb": "/dev/sdq"})
    assert "  onto /dev/sdq" in text.splitlines()
    assert "MBR (msdos) table with 1 partition," in text


def test_totals_count_what_the_mapped_disks_write_and_verify():
    backup_set = load_set(WEB01)
    sda = restore_totals(backup_set, {"/dev/sda": "x"})
    archives = {fs.id: fs.archive for fs in backup_set.filesystems}
    assert sda.bytes == MiB + archives[2].uncompressed_size + archives[4].uncompressed_size
    assert sda.files == 182345 + 40211
    assert sda.verify_bytes == backup_set.filesystem(2).bytes_used + \
        backup_set.filesystem(4).bytes_used
    both = restore_totals(backup_set, {"/dev/sda": "x", "/dev/sdb": "y"})
    assert both.files == sda.files + 96120
    assert restore_totals(backup_set, {}).bytes == 0


def test_when_reads_the_manifest_time():
    assert when("2026-03-14T02:30:00+00:00") == "2026-03-14 02:30 UTC"
    assert when("2026-03-14T02:30:00") == "2026-03-14 02:30"
    assert when("yesterday") == "yesterday"
