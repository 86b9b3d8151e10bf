"""Progress events from core to whoever drives it (the TUI, or the plain command-line printer).

Questions travel the same way; they are in questions.py, with how they are answered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from .questions import Question


@dataclass
class Progress:
    """Where one step stands. Rate is bytes per second; eta in seconds, None while unknown."""

    step: str
    bytes_done: int = 0
    bytes_total: int = 0
    files_done: int = 0
    files_total: int = 0
    current: str = ""
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        elapsed = self.elapsed
        return self.bytes_done / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        rate = self.rate
        if rate <= 0 or self.bytes_total <= 0:
            return None
        return max(0.0, (self.bytes_total - self.bytes_done) / rate)


@dataclass(frozen=True)
class Message:
    """A line for the operator and the log: what is being done now."""

    text: str


@dataclass(frozen=True)
class StepStarted:
    """A step of the plan begins: number counts from 1 up to total."""

    number: int
    total: int
    text: str


Event = Progress | Message | StepStarted | Question
Listener = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The listener used when nobody listens."""
