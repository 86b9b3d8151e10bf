"""Cancelling a running restore.

Whoever drives the core (a key in the console, Ctrl-C on the command line) sets a
threading.Event; the core looks at it at its safe points (between steps, between the frames
and members of an archive) and stops there by raising Cancelled, which unwinds as any failure
does: tar killed, filesystems unmounted, loop devices detached, the restore journal kept.
"""

from __future__ import annotations

import signal
import threading

from .errors import Cancelled

CancelToken = threading.Event


def stop_if_cancelled(cancel: CancelToken | None, what: str = "The restore was cancelled.") -> None:
    """Raises Cancelled once the token is set; a safe point of the caller."""
    if cancel is not None and cancel.is_set():
        raise Cancelled(what)


# Signals that end a run as quitting does, without asking: a kill (SIGTERM), the line or the
# terminal gone (SIGHUP). The console and the command line both honour them.
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
