"""A step of a real whole-disk restore that fails once: `restore --on-failure retry` runs the
step again and the restore ends as one that never failed; without a terminal and without the
option it stops with the step's error, as before. The command line runs in this process, so
that the failure can be put into the step's handler (mkfs, the first time); the result is
checked with blkid and rsync."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from console import cli
from console.core.applying import restore
from console.core.errors import RestoreError
from tests.system.clitool import TEST_LOG, small_ext4_set
from tests.system.hardtree import rsync_differences
from tests.system.images import attached, blkid_of, mounted

pytestmark = pytest.mark.system

MiB = 1024 * 1024
DISK_SIZE = 64 * MiB


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> tuple[Path, Path, str]:
    return small_ext4_set(tmp_path_factory.mktemp("failed-step"), DISK_SIZE // MiB, dirs=3,
                          files=20, grain=300)


@pytest.fixture
def mkfs_fails_once(monkeypatch):
    """The restore's make-filesystem handler fails the first time it is called."""
    calls = []
    real = restore.make_filesystem

    def failing_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise RestoreError("mkfs.ext4 was killed (injected by the test).",
                               "The log has its output.")
        return real(*args, **kwargs)

    monkeypatch.setattr(restore, "make_filesystem", failing_once)
    monkeypatch.setattr("sys.stdin", io.StringIO())  # not a terminal
    return calls


@pytest.fixture
def run_cli():
    """cli.main in this process; the log handlers it adds are removed afterwards."""
    logger = logging.getLogger("restore_console")
    before = list(logger.handlers)
    yield lambda *args: cli.main(["--log", TEST_LOG, *args])
    for handler in logger.handlers[len(before):]:
        logger.removeHandler(handler)
        handler.close()


def blank(path: Path) -> Path:
    with open(path, "wb") as f:
        f.truncate(DISK_SIZE)
    return path


def test_a_step_that_fails_once_is_retried_with_on_failure_retry_and_the_restore_is_whole(
        small_set, tmp_path, mkfs_fails_once, run_cli, capsys):
    source, set_dir, name = small_set
    target = blank(tmp_path / "target.img")
    code = run_cli("restore", str(set_dir), "--map", f"{name}={target}", "--yes",
                   "--on-failure", "retry")
    err = capsys.readouterr().err
    assert code == 0, err
    assert len(mkfs_fails_once) == 2
    assert "mkfs.ext4 was killed (injected by the test)." in err
    assert "Answered retry (--on-failure retry)." in err
    assert "mkfs.ext4 was killed" in Path(TEST_LOG).read_text()
    with attached(source, read_only=True) as src, attached(target, read_only=True) as dst:
        keys = ("TYPE", "UUID", "LABEL", "PARTUUID")
        a, b = blkid_of(src.partition(1)), blkid_of(dst.partition(1))
        assert {k: a.get(k) for k in keys} == {k: b.get(k) for k in keys}
        with mounted(src.partition(1), "ext4", "ro") as original, \
                mounted(dst.partition(1), "ext4", "ro") as restored:
            assert rsync_differences(original, restored) == []


def test_without_a_terminal_or_the_option_a_failed_step_stops_the_restore_as_before(
        small_set, tmp_path, mkfs_fails_once, run_cli, capsys):
    _, set_dir, name = small_set
    target = blank(tmp_path / "target.img")
    code = run_cli("restore", str(set_dir), "--map", f"{name}={target}", "--yes")
    err = capsys.readouterr().err
    assert code == 1
    assert len(mkfs_fails_once) == 1
    assert "restore-console: mkfs.ext4 was killed (injected by the test)." in err
    assert "retry" not in err
