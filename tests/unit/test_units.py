"""Sizes, rates, durations and counts as the operator reads them: one way everywhere."""

from datetime import datetime, timedelta

from console.core.units import (
    about,
    ago,
    count,
    day,
    duration,
    exact_size,
    rate,
    size,
    whole_size,
)


def test_sizes_are_in_binary_units():
    assert size(268_435_456) == "256.0 MiB"
    assert size(1536) == "1.5 KiB"
    assert whole_size(268_435_456) == "256 MiB"


def test_an_exact_size_adds_the_bytes():
    assert exact_size(268_435_456) == "256.0 MiB (268,435,456 bytes)"
    assert exact_size(512, "one sector") == "512 Bytes (512 bytes; one sector)"


def test_a_rate_is_a_size_per_second():
    assert rate(13_107_200) == "12.5 MiB/s"


def test_a_duration_is_said_to_the_second():
    assert duration(65.7) == "1 minute and 5 seconds"
    assert duration(0.35) == "under a second"


def test_what_is_left_is_said_roughly():
    assert about(301) == "5 minutes"


def test_a_moment_is_said_as_a_person_would():
    assert ago(timedelta(hours=3)) == "3 hours ago"
    assert day(datetime(2020, 9, 13, 12, 0)) == "Sep 13 2020"


def test_a_count_agrees_with_its_noun():
    assert count(1, "entry") == "1 entry"
    assert count(2, "entry") == "2 entries"
    assert count(1234, "file") == "1,234 files"
    assert count(0, "difference") == "0 differences"
    assert count(3, "disk", "disks") == "3 disks"
    assert count(2, "day") == "2 days"
    assert count(2, "match") == "2 matches"
