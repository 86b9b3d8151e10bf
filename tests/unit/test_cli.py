"""The command line without root: usage errors, words instead of tracebacks, the printer."""

import subprocess
import sys

import pytest

from console.core.events import Progress
from console.printer import describe


def cli(*args):
    return subprocess.run([sys.executable, "-m", "console", "--log", "/dev/null", *args],
                          capture_output=True, text=True)


def test_missing_set_is_one_clear_line(tmp_path):
    proc = cli("inspect", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
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
    assert gone.returncode == 2 and f"The target {tmp_path}/x.img does not exist." in gone.stderr
    (tmp_path / "t.img").write_bytes(b"")
    unknown = cli("restore", str(set_dir), "--only", "/etc", "--map", f"/dev/sdz={tmp_path}/t.img")
    assert unknown.returncode == 2 and "The set has no disk named /dev/sdz" in unknown.stderr
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
    assert missing.returncode == 2 and "/etc/shadow is not in the set" in missing.stderr
    busy = tmp_path / "busy"
    (busy / "etc").mkdir(parents=True)
    (busy / "etc/passwd").write_text("x")
    refused = cli("restore", str(set_dir), "--only", "/etc", "--into", str(busy))
    assert refused.returncode == 2
    assert f"1 existing file (1 Byte) would be replaced: {busy}/etc/passwd." in refused.stderr
    assert sorted(p.name for p in (busy / "etc").iterdir()) == ["passwd"]


def _set_with_partitions(tmp_path):
    """The fake set, its disk /dev/sda given two partitions, and an empty target image."""
    from console.core.backupset.manifest import BackupSet, load_set
    from console.core.layout import Partition
    set_dir = _fake_set(tmp_path)
    MiB = 1024 * 1024
    backup_set = load_set(str(set_dir))
    backup_set.disks[0].partitions = [Partition(1, 1 * MiB, 16 * MiB, "primary"),
                                      Partition(2, 17 * MiB, 40 * MiB, "primary")]
    BackupSet.save(backup_set)
    image = tmp_path / "target.img"
    image.write_bytes(b"")
    return str(set_dir), str(image)


TYPED_WRONG = {
    "a --map source the set lacks": (["plan", "SET", "--map", "/dev/sdz=IMG"],
                                     "The set has no disk named /dev/sdz"),
    "a --part disk the set lacks": (["plan", "SET", "--part", "/dev/sdz:1=rest"],
                                    "The set has no disk named /dev/sdz"),
    "a --part partition number the disk lacks": (["plan", "SET", "--part", "/dev/sda:9=rest"],
                                                 "/dev/sda has no such partition"),
    "two partitions taking the rest": (["plan", "SET", "--part", "/dev/sda:1=rest",
                                        "--part", "/dev/sda:2=rest"], "only one can"),
    "a malformed override": (["plan", "SET", "--part", "/dev/sda:1=150%"], "at most 100"),
    "a --map target that does not exist": (["plan", "SET", "--map", "/dev/sda=/nowhere.img"],
                                           "The target /nowhere.img does not exist"),
    "a restore --plan file that does not exist": (["restore", "--plan", "/nowhere.json"],
                                                  "The plan /nowhere.json cannot be read"),
    "a --log file that cannot be written": (["--log", "/nowhere/log", "inspect", "SET"],
                                            "--log /nowhere/log cannot be written"),
    "a SET that does not exist": (["inspect", "/nowhere"], "/nowhere is not a directory"),
    "a SET without a manifest": (["inspect", "EMPTY"], "manifest.json is missing"),
    "an ls PATH the set lacks": (["ls", "SET", "/nowhere"], "/nowhere is not in the set"),
    "an ls fs-N the set lacks": (["ls", "SET", "fs-9:/"], "no filesystem number 9"),
    "an --only map source the set lacks": (["restore", "SET", "--only", "/etc", "--map",
                                            "/dev/sdz=IMG"], "The set has no disk named"),
    "a verify --root that does not exist": (["verify", "SET", "--root", "/nowhere"],
                                            "/nowhere is not a directory"),
    "a disks --image that does not exist": (["disks", "--image", "/nowhere.img"],
                                            "The image file /nowhere.img does not exist"),
    "a backup --disk that does not exist": (["backup", "--disk", "/nowhere.img", "--to", "EMPTY"],
                                            "--disk /nowhere.img does not exist"),
}


@pytest.mark.parametrize("arguments,words", TYPED_WRONG.values(), ids=TYPED_WRONG.keys())
def test_every_mistake_in_what_was_typed_exits_2_in_words(tmp_path, arguments, words):
    set_dir, image = _set_with_partitions(tmp_path)
    (tmp_path / "empty").mkdir()
    given = {"SET": set_dir, "IMG": image, "EMPTY": str(tmp_path / "empty")}
    arguments = [given.get(a, a).replace("=IMG", "=" + image) for a in arguments]
    proc = subprocess.run([sys.executable, "-m", "console", *arguments]
                          if arguments[0] == "--log" else
                          [sys.executable, "-m", "console", "--log", "/dev/null", *arguments],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("restore-console: ")


def test_a_set_that_is_damaged_is_a_failure_not_a_mistake_exit_1(tmp_path):
    set_dir, _ = _set_with_partitions(tmp_path)
    (tmp_path / "set" / "manifest.json").write_text("{ not json")
    proc = cli("inspect", set_dir)
    assert proc.returncode == 1 and "is damaged" in proc.stderr
