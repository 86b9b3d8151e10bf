"""The console on a real terminal (a pseudo-terminal): what tools write to standard error
behind its back (libparted's `udevadm settle` through the shell) goes to the log, never onto
the screen, where it left stray letters and scrolled the title away."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from pathlib import Path

STRAY = "sh: 1: udevadm: not found"

# Run in the child, on the pseudo-terminal: the console as `restore-console --set` starts it,
# on the stage, with a set loading that makes a tool complain on fd 2, as libparted does.
PROGRAM = """
import subprocess, sys
from textual._context import active_app
from console.tui import app as app_module
from tests.functional.stage import WEB01, load_stage_set, stage_core

def load_set(path):
    subprocess.run(["sh", "-c", "echo '{stray}' >&2"])
    app = active_app.get()
    app.call_after_refresh(app.exit)
    return load_stage_set(path)

app_module.Core = lambda: stage_core(load_set=load_set)
from console.cli import main
sys.exit(main(["--log", {log!r}, "--set", WEB01]))
"""


def run_on_a_terminal(program: str, seconds: float = 60.0) -> tuple[bytes, int]:
    """Runs python -c program with a pseudo-terminal as its terminal: (what it drew, status)."""
    pid, master = pty.fork()
    if pid == 0:
        os.execve(sys.executable, [sys.executable, "-c", program],
                  {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"})
    drawn = bytearray()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child is gone: EIO on Linux
            break
        if not chunk:
            break
        drawn += chunk
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    os.close(master)
    return bytes(drawn), os.waitstatus_to_exitcode(status)


def test_what_a_tool_writes_to_standard_error_goes_to_the_log_not_onto_the_screen(tmp_path):
    log = tmp_path / "restore-console.log"
    drawn, code = run_on_a_terminal(PROGRAM.format(stray=STRAY, log=str(log)))
    assert code == 0, drawn.decode(errors="replace")[-2000:]
    assert b"restore-console" in drawn or b"web-01" in drawn  # the console did draw
    assert STRAY.encode() not in drawn
    assert STRAY in Path(log).read_text()
