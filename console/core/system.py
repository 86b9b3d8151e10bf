"""Running the system tools (mount, mkfs, losetup, tar ...) with failures put into words."""

from __future__ import annotations

import logging
import shutil
import subprocess
from typing import Sequence

from .errors import RestoreError

log = logging.getLogger("restore_console")


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise RestoreError(f"The tool '{tool}' is not installed on this system.",
                           "Install it (the project's 'make test' installs all tools), or "
                           "use a rescue image that has it.")
    return path


def run(cmd: Sequence[str], what: str, *, input: bytes | None = None,
        check: bool = True) -> subprocess.CompletedProcess:
    """Runs cmd, logs it; on failure raises RestoreError saying `what` failed and why."""
    require(cmd[0])
    log.debug("run: %s", " ".join(cmd))
    proc = subprocess.run(list(cmd), input=input, capture_output=True)
    if check and proc.returncode != 0:
        reason = first_line(proc.stderr) or f"exit code {proc.returncode}"
        log.error("%s failed: %s\n%s", what, " ".join(cmd), proc.stderr.decode(errors="replace"))
        raise RestoreError(f"Could not {what}: {reason}.", "The log has the full output.")
    return proc


def first_line(stderr: bytes) -> str:
    """The first line a tool wrote to stderr: usually the error itself, before usage or summary."""
    for line in stderr.decode(errors="replace").splitlines():
        if line.strip():
            return line.strip().rstrip(".")
    return ""


def output(cmd: Sequence[str], what: str) -> str:
    return run(cmd, what).stdout.decode(errors="replace")
