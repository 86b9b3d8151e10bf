"""The terminal kept for the console's own drawing.

Tools and libraries write to the process's standard error behind the app's back: libparted runs
`udevadm settle` through the shell, which says "sh: 1: udevadm: not found" where udev is
missing. On the screen that left stray letters beside the log box, and its newline on the last
row scrolled the whole terminal, title and all. While the console runs, file descriptor 2 (what
every child inherits) goes to the log; Textual draws on a duplicate of the terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stray_output_to(log_path: str) -> Iterator[None]:
    """Inside: fd 2 appends to log_path (or is discarded without a log), sys.__stderr__ (where
    Textual draws) is the terminal. Nothing changes when standard error is no terminal."""
    original = sys.__stderr__
    if original is None or not os.isatty(2):
        yield
        return
    original.flush()
    terminal = os.dup(2)
    sink = os.open(log_path or os.devnull, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(sink, 2)
    os.close(sink)
    sys.__stderr__ = os.fdopen(terminal, "w", encoding=original.encoding,
                               errors=original.errors, closefd=True)
    try:
        yield
    finally:
        # The terminal may be gone (a hang-up): what is left unwritten to it is lost anyway.
        with contextlib.suppress(OSError):
            sys.__stderr__.flush()
        os.dup2(terminal, 2)
        with contextlib.suppress(OSError):
            sys.__stderr__.close()
        sys.__stderr__ = original
