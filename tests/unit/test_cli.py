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
    assert "1,234 entries" in line and "51.2 MiB/s" in line and "ETA 30 seconds" in line


def _fake_set(tmp_path):
    """A set with a catalog and a manifest but no archives: enough for ls and usage checks."""
    from console.core.backupset.manifest import BackupSet
    from console.core.layout import Archive, Disk, Filesystem
    from tests.catalogs import make_catalog
    set_dir = tmp_path / "set"
    set_dir.mkdir()
    make_catalog(str(set_dir / "catalog.sqlite"),
                 {b"/etc/passwd": ("file", 10), b"/etc/ssh/sshd_config": ("file", 20),
                  b"/home/anna/passwd.bak": ("file", 30)})
    fs = Filesystem(id=1, disk="/dev/sda", partition=1, device="/dev/sda1", type="ext4",
                    mountpoint="/", archive=Archive(kind="tar", pieces=[], uncompressed_size=0))
    disk = Disk("/dev/sda", 64 * 1024 * 1024, 512, 512, "gpt")
    BackupSet(path=str(set_dir), set_id="s", created="c", host="h", disks=[disk],
              filesystems=[fs]).save()
    return set_dir


def test_ls_lists_and_searches(tmp_path):
    set_dir = _fake_set(tmp_path)
    proc = cli("ls", str(set_dir), "/etc")
    assert proc.returncode == 0
    assert [line.split()[-1] for line in proc.stdout.splitlines()] == ["passwd", "ssh"]
    proc = cli("ls", str(set_dir), "--search", "passwd")
    assert proc.returncode == 0
    assert [line.split()[-1] for line in proc.stdout.splitlines()] == [
        "/etc/passwd", "/home/anna/passwd.bak"]
    proc = cli("ls", str(set_dir), "/home", "--search", "passwd")
    assert [line.split()[-1] for line in proc.stdout.splitlines()] == ["/home/anna/passwd.bak"]


def test_selection_restore_usage(tmp_path):
    set_dir = _fake_set(tmp_path)
    # Without --into: in place. No disk here holds the set's filesystem (it has no UUID).
    only = cli("restore", str(set_dir), "--only", "/etc")
    assert only.returncode == 1 and "Traceback" not in only.stderr
    assert "No disk of this machine holds fs-1 (ext4 /, UUID unknown)." in only.stderr
    assert "--map /dev/sda=TARGET" in only.stderr and "--into DIR" in only.stderr
    gone = cli("restore", str(set_dir), "--only", "/etc", "--map", f"/dev/sda={tmp_path}/x.img")
    assert gone.returncode == 1 and f"The target {tmp_path}/x.img does not exist." in gone.stderr
    unknown = cli("restore", str(set_dir), "--only", "/etc", "--map", "/dev/sdz=/dev/sdb")
    assert unknown.returncode == 1 and "The set has no disk named /dev/sdz" in unknown.stderr
    into = cli("restore", str(set_dir), "--into", str(tmp_path / "out"))
    assert into.returncode == 2 and "--into needs --only" in into.stderr
    both = cli("restore", str(set_dir), "--only", "/etc", "--into", str(tmp_path / "out"),
               "--map", "/dev/sda=/dev/sdb")
    assert both.returncode == 2 and "one or the other" in both.stderr
    failing = cli("restore", str(set_dir), "--only", "/etc", "--into", str(tmp_path / "out"),
                  "--on-failure", "retry")
    assert failing.returncode == 2 and "--on-failure are for whole disks" in failing.stderr
    assert not (tmp_path / "out").exists()
    neither = cli("restore", str(set_dir))  # the suggested mapping: no disk here fits the set
    assert neither.returncode == 1 and "--map SRC=TARGET" in neither.stderr
    missing = cli("restore", str(set_dir), "--only", "/etc/shadow", "--into", str(tmp_path / "out"))
    assert missing.returncode == 1 and "/etc/shadow is not in the set" in missing.stderr
    busy = tmp_path / "busy"
    (busy / "etc").mkdir(parents=True)
    (busy / "etc/passwd").write_text("x")
    refused = cli("restore", str(set_dir), "--only", "/etc", "--into", str(busy))
    assert refused.returncode == 2
    assert f"1 existing file (1 Byte) would be replaced: {busy}/etc/passwd." in refused.stderr
    assert sorted(p.name for p in (busy / "etc").iterdir()) == ["passwd"]
