"""The background flush of a restored filesystem: it lets go of the mount when waited for, and
a write error it meets stops the restore in words instead of vanishing in the unmount."""

from __future__ import annotations

import errno
import os
from types import SimpleNamespace

import pytest

from console.core import restore
from console.core.errors import RestoreError


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_flush_closes_its_descriptor_once_waited_for(tmp_path):
    before = open_descriptors()
    flush = restore._Flush(str(tmp_path), "ext4 /")
    flush.wait()
    flush.wait()  # twice is harmless: the unwinding waits again after finalize did
    assert flush.error is None
    assert open_descriptors() == before


def test_a_write_error_of_the_flush_fails_the_finalize_step(tmp_path, monkeypatch):
    def failing_syncfs(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(restore, "syncfs", failing_syncfs)
    applier = restore._Applier.__new__(restore._Applier)  # only what _finalize uses
    applier.flushes = [restore._Flush(str(tmp_path), "xfs /srv")]
    applier.root = None
    with pytest.raises(RestoreError) as raised:
        applier._finalize(SimpleNamespace(detail={}))
    assert raised.value.message == ("Writing the restored xfs /srv to its disk failed: "
                                    "Input/output error.")
    assert "dmesg" in raised.value.hint
