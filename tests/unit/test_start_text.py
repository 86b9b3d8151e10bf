"""The set's creation time on the start screen."""

from __future__ import annotations

from console.tui.screens.start import when


def test_when_reads_the_manifest_time():
    assert when("2026-03-14T02:30:00+00:00") == "2026-03-14 02:30 UTC"
    assert when("2026-03-14T02:30:00") == "2026-03-14 02:30"
    assert when("yesterday") == "yesterday"
