"""The log file, its last lines, following what is added while the screen is open."""

from __future__ import annotations

import os

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Log

from .common import KeyFooter, StatusLine, TitleBar

TAIL_BYTES = 256 * 1024


class LogScreen(Screen):
    """Esc goes back to where you were."""

    HELP = ("The log file: everything the console did, with the details of every failure. "
            "It follows new lines as they are written. Esc goes back.")

    BINDINGS = [Binding("escape,q", "close", "Back")]

    def __init__(self, path: str, *, follow_seconds: float = 1.0) -> None:
        super().__init__()
        self.path = path
        self.follow_seconds = follow_seconds
        self._offset = 0

    def compose(self) -> ComposeResult:
        yield TitleBar(f"Log: {self.path}" if self.path else "Log")
        yield Log(id="log", max_lines=5000)
        yield StatusLine(id="status")
        yield KeyFooter()

    def on_mount(self) -> None:
        log_widget = self.query_one("#log", Log)
        log_widget.focus()
        if not self.path:
            self._say("There is no log file: none of the usual places could be written.")
            return
        try:
            size = os.path.getsize(self.path)
        except OSError as exc:
            self._say(f"The log {self.path} cannot be read: {exc.strerror}.")
            return
        self._offset = max(0, size - TAIL_BYTES)
        self._read_more(skip_partial=self._offset > 0)
        if self.follow_seconds:
            self.set_interval(self.follow_seconds, self._read_more)

    def _read_more(self, skip_partial: bool = False) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1  # whole lines only; the rest comes next time
        if end == 0:
            return
        chunk = data[:end]
        self._offset += end
        lines = chunk.decode(errors="replace").splitlines()
        if skip_partial and lines:
            lines = lines[1:]
        if lines:
            self.query_one("#log", Log).write_lines(lines)

    def _say(self, text: str) -> None:
        self.query_one("#status", StatusLine).say(text)

    def action_close(self) -> None:
        self.app.pop_screen()
