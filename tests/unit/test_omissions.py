"""Never silent: what tar says about files it could not read fully is read per path, from the
words of real tar runs provoked here; a set records what it lacks and the start screen says so."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from console.core.backupset import archive
from console.core.backupset.archive import TAR_CREATE, TarProblem, tar_problems
from console.core.backupset.backup import _named
from console.core.backupset.manifest import MANIFEST, load_set
from console.core.layout import Omission
from console.core.system import require
from console.tui.screens.start import set_summary

WEB01 = Path(__file__).parent.parent / "functional" / "data" / "web-01"
NOBODY = 65534


def _tar_create(tree: Path, *extra: str, as_nobody: bool = False) -> tuple[int, str]:
    """GNU tar --create as the backup runs it (by its full path, which tar's words begin with;
    plus extra options), to a pipe: tar reads nothing at all when its archive is /dev/null."""
    cmd = [require("tar"), *TAR_CREATE, *extra, "-f", "-", "-C", str(tree), "."]
    if as_nobody:
        cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *cmd]
    proc = subprocess.run(cmd, capture_output=True)
    return proc.returncode, proc.stderr.decode()


def test_a_file_that_changes_and_one_removed_while_tar_runs_are_named(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a-growing.log").write_bytes(os.urandom(2 * 1024 * 1024))
    (tree / "b-removed").write_text("gone before tar reaches it\n")
    # At every record tar writes (10 KiB), one line more on the log and b-removed gone: tar is
    # in the middle of the 2 MiB log when it first runs, so it always sees both.
    change = f"echo more >> {tree}/a-growing.log; rm -f {tree}/b-removed"
    returncode, stderr = _tar_create(tree, "--checkpoint=1",
                                     f"--checkpoint-action=exec=sh -c '{change}'")
    assert returncode == 1, stderr
    problems, other = tar_problems(returncode, stderr)
    assert other == []
    by_path = {p.path: p for p in problems}
    assert by_path["/a-growing.log"].what == "may be inconsistent"
    assert by_path["/a-growing.log"].why == "file changed as we read it"
    assert by_path["/b-removed"].what == "left out"
    assert by_path["/b-removed"].why == "File removed before we read it"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to run tar as nobody")
def test_a_file_tar_cannot_open_is_left_out_and_named():
    # Not under pytest's tmp_path: its parent is closed to nobody.
    with tempfile.TemporaryDirectory(prefix="rc-test-unreadable-") as name:
        tree = Path(name)
        tree.chmod(0o755)
        (tree / "readable").write_text("anyone\n")
        (tree / "secret").write_text("root only\n")
        (tree / "secret").chmod(0)
        returncode, stderr = _tar_create(tree, as_nobody=True)
    assert returncode == 2, stderr
    problems, other = tar_problems(returncode, stderr)
    assert other == []
    assert [(p.path, p.what, p.why) for p in problems] == [
        ("/secret", "left out", "Cannot open: Permission denied")]


def test_any_other_word_of_tar_is_not_taken_for_a_skipped_file():
    stderr = ("/usr/bin/tar: ./x: file changed as we read it\n"
              "tar: -: Cannot write: No space left on device\n"
              "tar: Error is not recoverable: exiting now\n")
    problems, other = tar_problems(2, stderr)
    assert [p.path for p in problems] == ["/x"]
    assert other == ["tar: -: Cannot write: No space left on device",
                     "tar: Error is not recoverable: exiting now"]


def test_a_manifest_without_omissions_reads_as_none_and_they_are_kept(tmp_path):
    shutil.copytree(WEB01, tmp_path / "set")
    backup_set = load_set(str(tmp_path / "set"))
    assert "omissions" not in json.loads((WEB01 / MANIFEST).read_text())
    assert backup_set.omissions == []
    backup_set.omissions = [Omission(fs=2, device="/dev/sda2", path="/var/log/syslog",
                                     what="may be inconsistent",
                                     why="file changed as we read it")]
    backup_set.save()
    again = load_set(str(tmp_path / "set"))
    assert again.omissions == backup_set.omissions
    assert again.omissions[0].words == \
        "/dev/sda2:/var/log/syslog: may be inconsistent (file changed as we read it)"


def test_the_start_screen_says_a_set_is_incomplete_and_only_then():
    backup_set = load_set(str(WEB01))
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert "incomplete" not in set_summary(backup_set, now)
    backup_set.omissions = [Omission(2, "/dev/sda2", f"/srv/f{i}", "left out",
                                     "Cannot open: Permission denied") for i in range(3)]
    warning = set_summary(backup_set, now).splitlines()[-1]
    assert warning.startswith("[b]This set is incomplete:[/b] 3 things were not captured fully")
    assert "inspect" in warning
    assert len(warning.replace("[b]", "").replace("[/b]", "")) <= 2 * 78


def test_the_archive_of_a_tree_whose_file_changes_is_written_and_names_it(tmp_path,
                                                                          monkeypatch):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "growing.log").write_bytes(os.urandom(2 * 1024 * 1024))
    (tree / "steady.txt").write_text("unchanged\n")
    (tmp_path / "set").mkdir()
    monkeypatch.setattr(archive, "TAR_CREATE", [
        *TAR_CREATE, "--checkpoint=1",
        f"--checkpoint-action=exec=sh -c 'echo more >> {tree}/growing.log'"])
    written = archive.write_tar_archive(str(tree), str(tmp_path / "set"), "fs-1.tar.zst",
                                        label="test tree", bytes_total=0, files_total=0,
                                        listener=lambda _event: None)
    assert [(p.path, p.what) for p in written.problems if p.path != "/"] == [
        ("/growing.log", "may be inconsistent")]
    assert {m.path for m in written.members} >= {b"/growing.log", b"/steady.txt"}


def test_a_failed_backup_names_the_first_paths_grouped_and_counts_the_rest():
    problems = [TarProblem(f"/f{i}", "left out", "Cannot open: Permission denied")
                for i in range(3)]
    problems += [TarProblem(f"/g{i}", "may be inconsistent", "file changed as we read it")
                 for i in range(4)]
    assert _named(problems) == ("/f0, /f1, /f2 (Cannot open: Permission denied); /g0, /g1 "
                                "(file changed as we read it) and 2 more (in the log)")
