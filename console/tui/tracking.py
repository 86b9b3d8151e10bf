"""Where a restore stands, per step and overall, from the core's progress events.

The core reports each step on its own (a filesystem's archive, a raw image, the verification);
the overall figures add the steps up against the totals known before the start. Time comes from
an injected clock, so the figures are the same in every test run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..core.events import Progress
from ..core.units import about, count, duration, number, rate, size


@dataclass
class Figures:
    """One line's worth: bytes and entries (files_*) done of total, rate, time."""

    bytes_done: int = 0
    bytes_total: int = 0
    files_done: int = 0
    files_total: int = 0
    seconds: float = 0.0

    @property
    def fraction(self) -> float | None:
        if self.bytes_total <= 0:
            return None
        return min(1.0, self.bytes_done / self.bytes_total)

    @property
    def rate(self) -> float:
        return self.bytes_done / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta(self) -> float | None:
        if self.rate <= 0 or self.bytes_total <= 0:
            return None
        return max(0.0, (self.bytes_total - self.bytes_done) / self.rate)

    def describe(self, *, elapsed: bool = False) -> str:
        if self.bytes_total > 0:
            parts = [f"{size(self.bytes_done)} of {size(self.bytes_total)}"]
        else:
            parts = [size(self.bytes_done)]
        if self.files_total:
            parts.append(f"{number(self.files_done)} of {count(self.files_total, 'entry')}")
        elif self.files_done:
            parts.append(count(self.files_done, 'entry'))
        parts.append(rate(self.rate))
        if elapsed:
            parts.append(f"{duration(int(self.seconds))} so far")
        eta = self.eta
        if eta is not None and self.bytes_done < self.bytes_total:
            parts.append(f"about {about(eta)} left")
        return ", ".join(parts)


class Tracker:
    """Fed with Progress events; answers for the current step and for the whole run."""

    def __init__(self, bytes_total: int, clock: Callable[[], float]):
        self.clock = clock
        self.started = clock()
        self.bytes_total = bytes_total
        self.step_name = ""
        self.step = Figures()
        self.current = ""
        self._step_started = self.started
        self._bytes_before = 0  # of the steps that are over

    def update(self, progress: Progress) -> None:
        now = self.clock()
        if progress.step != self.step_name:
            self._bytes_before += self.step.bytes_total or self.step.bytes_done
            self.step_name = progress.step
            self._step_started = now
        self.step = Figures(progress.bytes_done, progress.bytes_total, progress.files_done,
                            progress.files_total, now - self._step_started)
        self.current = progress.current

    def overall(self) -> Figures:
        done = min(self._bytes_before + self.step.bytes_done, self.bytes_total) \
            if self.bytes_total else self._bytes_before + self.step.bytes_done
        return Figures(done, self.bytes_total, 0, 0, self.clock() - self.started)

    def finish_step(self) -> None:
        """The step is over even where its last event fell short of its total (verification
        counts file bytes against what the filesystem uses)."""
        self.update(Progress(step="", bytes_total=0))
