"""Per-step and overall figures of a run, on a clock that moves only when told."""

from __future__ import annotations

from console.core.events import Progress
from console.tui.tracking import Figures, Tracker

MiB = 1024 * 1024


class Clock:
    def __init__(self):
        self.value = 100.0

    def __call__(self):
        return self.value


def test_step_and_overall():
    clock = Clock()
    tracker = Tracker(300 * MiB, clock)
    tracker.update(Progress("Restoring ext4 /", bytes_done=0, bytes_total=100 * MiB))
    clock.value = 110.0
    tracker.update(Progress("Restoring ext4 /", bytes_done=50 * MiB, bytes_total=100 * MiB,
                            files_done=10, files_total=20, current="/etc/passwd"))
    assert tracker.step.fraction == 0.5
    assert tracker.step.rate == 5 * MiB
    assert tracker.step.eta == 10
    assert tracker.current == "/etc/passwd"
    assert tracker.step.describe() == \
        "50.0 MiB of 100.0 MiB, 10 of 20 entries, 5.0 MiB/s, about 10 seconds left"
    # A new step: the one before counts whole towards the overall figure.
    clock.value = 120.0
    tracker.update(Progress("Restoring ext4 /home", bytes_done=0, bytes_total=100 * MiB))
    clock.value = 130.0
    tracker.update(Progress("Restoring ext4 /home", bytes_done=50 * MiB, bytes_total=100 * MiB))
    overall = tracker.overall()
    assert overall.bytes_done == 150 * MiB and overall.seconds == 30
    assert overall.describe(elapsed=True) == \
        "150.0 MiB of 300.0 MiB, 5.0 MiB/s, 30 seconds so far, about 30 seconds left"


def test_a_step_that_falls_short_still_counts_whole_when_it_ends():
    clock = Clock()
    tracker = Tracker(200 * MiB, clock)
    tracker.update(Progress("Verifying", bytes_done=80 * MiB, bytes_total=100 * MiB))
    tracker.finish_step()
    assert tracker.overall().bytes_done == 100 * MiB


def test_unknown_totals_say_nothing_they_do_not_know():
    figures = Figures(bytes_done=5 * MiB, seconds=0)
    assert figures.fraction is None and figures.eta is None
    assert figures.describe() == "5.0 MiB, 0 Bytes/s"
