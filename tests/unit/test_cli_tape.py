"""The tape options of the command line: what is typed wrong is said before anything is done."""

import subprocess
import sys


def cli(*args):
    return subprocess.run([sys.executable, "-m", "console", "--log", "/dev/null", *args],
                          capture_output=True, text=True)


def test_backup_needs_one_place_for_the_set(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"")
    for args in ([], ["--to", str(tmp_path / "set"), "--tape", str(tmp_path / "set.tap")]):
        proc = cli("backup", "--disk", str(disk), *args)
        assert proc.returncode == 2
        assert "--to DIR, --iso DIR or --tape DEV|FILE.tap (one)" in proc.stderr


def test_tape_options_without_a_tape_are_refused(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"")
    proc = cli("backup", "--disk", str(disk), "--to", str(tmp_path / "set"), "--block-size", "64K")
    assert proc.returncode == 2
    assert "go with --tape" in proc.stderr
    assert not (tmp_path / "set").exists()


def test_a_block_size_out_of_range_is_said(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"")
    for size in ("100", "32M", "big"):
        proc = cli("backup", "--disk", str(disk), "--tape", str(tmp_path / "set.tap"),
                   "--block-size", size)
        assert proc.returncode == 2, size
        assert f"--block-size {size} is not a size from 512 bytes to 16.0 MiB" in proc.stderr
    assert not (tmp_path / "set.tap").exists()


def test_a_missing_tape_image_is_a_usage_error(tmp_path):
    proc = cli("inspect", str(tmp_path / "nowhere.tap"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"The tape {tmp_path / 'nowhere.tap'} does not exist." in proc.stderr
