"""Counts and sizes said one way on every screen and in the command line: entries (everything an
archive holds) and file data (the sizes of regular files), the noun agreeing with the number."""

from console.core.applying.restore import RestoreResult
from console.core.applying.verify import VerifyResult, checked_words
from console.core.units import entries_and_data

MiB = 1024 ** 2


def test_one_small_file_is_one_entry_of_its_own_size():
    assert entries_and_data(1, 12) == "1 entry (12 Bytes of file data)"
    assert entries_and_data(214, int(1.4 * MiB)) == "214 entries (1.4 MiB of file data)"


def test_a_whole_restore_says_entries_file_data_and_images_apart():
    assert RestoreResult(entries=535, bytes=3 * MiB).summary() == \
        "535 entries (3.0 MiB of file data)"
    assert RestoreResult(entries=1, bytes=0, images=1, image_bytes=512 * MiB).summary() == \
        "1 entry (0 Bytes of file data) and 1 filesystem image (512.0 MiB)"


def test_a_comparison_counts_against_what_was_restored_and_names_the_mount_points():
    assert checked_words(535, 0, 0) == "535 entries checked, no differences"
    assert checked_words(1, 0, 1) == "1 entry checked, 1 difference"
    assert checked_words(534, 1, 0) == ("534 of 535 entries checked, no differences (1 mount "
                                        "point not: another filesystem is mounted over it)")
    assert VerifyResult(checked=532, covered=3, differences=[]).summary() == (
        "532 of 535 entries checked, no differences (3 mount points not: another filesystem "
        "is mounted over them)")
