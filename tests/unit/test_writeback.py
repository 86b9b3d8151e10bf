"""The write-back of a filesystem being restored: it keeps writing while the archive is
extracted, writes once more after, lets go of the mount when waited for, and a write error it
meets stops the restore in words instead of vanishing in the unmount."""

from __future__ import annotations

import errno
import os
import threading
from types import SimpleNamespace

import pytest

from console.core.applying import restore
from console.core.disks import writeback
from console.core.disks.writeback import WriteBack
from console.core.errors import RestoreError


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_write_back_closes_its_descriptor_once_waited_for(tmp_path):
    before = open_descriptors()
    write_back = WriteBack(str(tmp_path), "ext4 /")
    write_back.wait()
    write_back.wait()  # twice is harmless: the unwinding waits again after finalize did
    assert write_back.error is None
    assert write_back.calls >= 1
    assert open_descriptors() == before


def test_it_writes_over_and_over_until_finished_then_once_more(tmp_path, monkeypatch):
    finished_at_call: list[bool] = []
    enough, started = threading.Event(), threading.Event()

    def recording_syncfs(fd):
        started.wait(5)  # the thread may call before the constructor has returned
        finished_at_call.append(write_back._finished.is_set())
        if len(finished_at_call) == 3:
            enough.set()

    monkeypatch.setattr(writeback, "syncfs", recording_syncfs)
    write_back = WriteBack(str(tmp_path), "ext4 /", pause=0.001)
    started.set()
    assert enough.wait(5), "syncfs was not called again while the extraction went on"
    write_back.wait()
    # What was written before finish() is covered by a call that began after it.
    assert finished_at_call[:3] == [False, False, False]
    assert finished_at_call[-1] is True
    assert write_back.calls == len(finished_at_call)


def test_a_write_error_of_the_write_back_fails_the_finalize_step(tmp_path, monkeypatch):
    def failing_syncfs(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(writeback, "syncfs", failing_syncfs)
    applier = restore._Applier.__new__(restore._Applier)  # only what _finalize uses
    applier.write_backs = [WriteBack(str(tmp_path), "the restored xfs /srv")]
    applier.root = None
    with pytest.raises(RestoreError) as raised:
        applier._finalize(SimpleNamespace(detail={}))
    assert raised.value.message == ("Writing the restored xfs /srv to its disk failed: "
                                    "Input/output error.")
    assert "dmesg" in raised.value.hint
    assert applier.write_backs[0].calls == 1  # a failing disk is not asked again


def test_a_write_error_of_a_restore_in_place_is_said(tmp_path, monkeypatch):
    def failing_syncfs(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writeback, "syncfs", failing_syncfs)
    with pytest.raises(RestoreError) as raised:
        writeback.written_out(str(tmp_path), "the restored ext4 /home")
    assert raised.value.message == ("Writing the restored ext4 /home to its disk failed: "
                                    "No space left on device.")


def test_written_out_calls_syncfs_and_lets_go(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(writeback, "syncfs", lambda fd: calls.append(os.readlink(
        f"/proc/self/fd/{fd}")))
    before = open_descriptors()
    writeback.written_out(str(tmp_path), "the restored ext4 /home")
    assert calls and set(calls) == {str(tmp_path)}
    assert open_descriptors() == before


def test_it_reports_written_only_after_the_last_syncfs_succeeded(tmp_path, monkeypatch):
    """The journal records a filesystem as restored from on_written: never before the syncfs
    that follows finish(), never after a failed one."""
    calls: list[str] = []
    monkeypatch.setattr(writeback, "syncfs", lambda fd: calls.append("syncfs"))
    write_back = WriteBack(str(tmp_path), "ext4 /", pause=0.001)
    write_back.on_written = lambda: calls.append("written")
    write_back.wait()
    assert calls.count("written") == 1 and calls[-1] == "written" and calls[-2] == "syncfs"

    def failing_syncfs(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(writeback, "syncfs", failing_syncfs)
    reported: list[str] = []
    failing = WriteBack(str(tmp_path), "xfs /srv", pause=0.001)
    failing.on_written = lambda: reported.append("written")
    failing.wait()
    assert failing.error is not None and reported == []
