"""The plain progress printer of the command line and nuke mode."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from .core.events import Event, Message, Progress, StepStarted
from .core.questions import Question
from .core.units import count, duration, rate, size


def describe(progress: Progress) -> str:
    parts = [progress.step + ":"]
    if progress.bytes_total > progress.bytes_done:
        parts.append(f"{size(progress.bytes_done)} of {size(progress.bytes_total)}")
    else:
        parts.append(size(progress.bytes_done))
    if progress.files_done:
        parts.append(count(progress.files_done, "entry"))
    parts.append(rate(progress.rate))
    eta = progress.eta
    if eta is not None and progress.bytes_done < progress.bytes_total:
        parts.append(f"ETA {duration(eta)}")
    return ", ".join([parts[0] + " " + parts[1], *parts[2:]])


class Printer:
    """On a terminal one line that updates in place; elsewhere, or with `plain` (nuke mode, a
    serial console that keeps every line), a line every `interval` seconds."""

    def __init__(self, stream: TextIO = sys.stderr, interval: float = 5.0, plain: bool = False):
        self.stream = stream
        self.tty = stream.isatty() and not plain
        self.interval = interval
        self._last_line = 0.0
        self._open_line = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, Message):
            self._end_line()
            print(event.text, file=self.stream, flush=True)
        elif isinstance(event, StepStarted):
            self._end_line()
            print(f"[{event.number}/{event.total}] {event.text}", file=self.stream, flush=True)
        elif isinstance(event, Question):
            self._end_line()  # the answerer asks on the lines below
        elif isinstance(event, Progress):
            text = describe(event)
            if self.tty:
                width = 79
                self.stream.write("\r" + text[:width].ljust(width))
                self.stream.flush()
                self._open_line = True
            elif time.monotonic() - self._last_line >= self.interval or (
                    event.bytes_total and event.bytes_done >= event.bytes_total):
                self._last_line = time.monotonic()
                print(text, file=self.stream, flush=True)

    def _end_line(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False

    def close(self) -> None:
        self._end_line()


def print_finalized(result) -> None:
    """What the finalize of a restore (applying.restore.RestoreResult) changed and did, and
    what was left out or skipped, one line each on standard output."""
    for change in result.changes:
        print(f"Rewritten: {change}")
    for done in result.boot:
        print(f"Boot: {done}")
    if result.log_copy:
        print(f"The log and the plan are in {result.log_copy}/ of the restored system.")
    for name in result.unmapped:
        print(f"Not restored (no target given): disk {name}")
    for what in result.skipped:
        print(f"Skipped after it failed: {what}")
