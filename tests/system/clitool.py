"""The command line as the system tests run it: a subprocess, its log in one known place."""

from __future__ import annotations

import subprocess
import sys

TEST_LOG = "/tmp/restore-console-tests.log"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console", "--log", TEST_LOG, *args],
                          capture_output=True, text=True)


def cli_backup(image, set_dir):
    """`restore-console backup --disk image --to set_dir`, which must succeed; set_dir."""
    proc = cli("backup", "--disk", str(image), "--to", str(set_dir))
    assert proc.returncode == 0, proc.stderr
    return set_dir
