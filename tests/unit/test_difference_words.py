"""How a difference between a restored tree and the set is said: both sides in words, what is
on the disk first; dates, octal modes and sizes, never nanoseconds."""

from __future__ import annotations

from console.core.applying import differences as said

# 2026-11-30 14:02:11 and 15:10:02 UTC, in nanoseconds, as the catalog and lstat give them.
AT_14_02_11 = 1796047331 * 10 ** 9 + 126195238
AT_15_10_02 = 1796051402 * 10 ** 9


def test_times_are_local_dates(utc):
    assert said.modified(AT_15_10_02, AT_14_02_11) == \
        "modified 2026-11-30 15:10:02 on disk, 2026-11-30 14:02:11 in the set"


def test_times_in_the_same_second_are_told_apart_to_the_nanosecond(utc):
    assert said.modified(AT_14_02_11 - 126195238, AT_14_02_11) == (
        "modified 2026-11-30 14:02:11.000000000 on disk, "
        "2026-11-30 14:02:11.126195238 in the set")


def test_modes_owners_kinds_links_and_sizes():
    assert said.mode(0o644, 0o600) == "mode 0644 on disk, 0600 in the set"
    assert said.mode(0o4755, 0o755) == "mode 4755 on disk, 0755 in the set"
    assert said.owner((1000, 1000), (0, 0)) == "owner 1000:1000 on disk, 0:0 in the set"
    assert said.kind("file", "symlink") == "a file on disk, a symbolic link in the set"
    assert said.link_target("/x", "passwd") == "points to /x on disk, to passwd in the set"
    assert said.file_size(3 * 1024 ** 2, 1024 ** 2) == "size 3.0 MiB on disk, 1.0 MiB in the set"


def test_sizes_that_read_the_same_in_units_are_said_in_bytes():
    assert said.file_size(1024 ** 3 + 1, 1024 ** 3) == \
        "size 1,073,741,825 bytes on disk, 1,073,741,824 bytes in the set"


def test_missing_and_content():
    assert said.MISSING == "missing"
    assert said.CONTENT == "content differs (BLAKE3)"


def test_extra_and_how_many_more():
    assert said.EXTRA == "extra: on disk, not in the set"
    assert said.more_extra(1234) == "and 1,234 more extra"
