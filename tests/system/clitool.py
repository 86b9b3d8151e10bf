"""The command line as the system tests run it: a subprocess, its log in one known place."""

from __future__ import annotations

import subprocess
import sys

TEST_LOG = "/tmp/restore-console-tests.log"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console", "--log", TEST_LOG, *args],
                          capture_output=True, text=True)
