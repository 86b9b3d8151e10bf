"""The command line without root: usage errors, words instead of tracebacks, the printer."""

import subprocess
import sys

from console.core.events import Progress
from console.printer import describe


def cli(*args):
    return subprocess.run([sys.executable, "-m", "console", "--log", "/dev/null", *args],
                          capture_output=True, text=True)


def test_missing_set_is_one_clear_line(tmp_path):
    proc = cli("inspect", str(tmp_path / "nowhere"))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "is not a directory" in proc.stderr


def test_bad_map_is_a_usage_error(tmp_path):
    proc = cli("restore", str(tmp_path), "--map", "sda", "--yes")
    assert proc.returncode == 2
    assert "SRC=TARGET" in proc.stderr


def test_argparse_usage_errors_exit_2():
    assert cli("restore").returncode == 2
    assert cli("no-such-command").returncode == 2


def test_progress_line_has_rate_and_eta():
    progress = Progress("Restoring ext4 /", bytes_done=512 * 1024**2, bytes_total=2 * 1024**3,
                        files_done=1234)
    progress.started -= 10  # ten seconds in
    line = describe(progress)
    assert line.startswith("Restoring ext4 /: 512.0 MiB of 2.0 GiB")
    assert "1,234 files" in line and "51.2 MiB/s" in line and "ETA 30 seconds" in line
