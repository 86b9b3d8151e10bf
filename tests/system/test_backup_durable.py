"""A backup is on its disk before it says so: the filesystem receiving the set is written out
while the backup runs and once more before the manifest, which is written last; a write error
there fails the backup in words and leaves no manifest (so no set that only looks whole)."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from console.core.backupset import backup as backup_module
from console.core.backupset.manifest import MANIFEST, load_set
from console.core.disks import writeback
from console.core.errors import RestoreError
from tests.system.images import make_one_ext4_disk

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    image = tmp_path_factory.mktemp("durable") / "source.img"

    def fill(root: Path) -> None:
        for i in range(20):
            Path(root, f"file-{i}").write_bytes(os.urandom(64 * 1024))

    make_one_ext4_disk(image, 64, fill)
    return image


def test_the_set_is_written_out_before_its_manifest(source, tmp_path, monkeypatch):
    dest = tmp_path / "set"
    calls = []
    real_syncfs = writeback.syncfs

    def recording_syncfs(fd):
        calls.append((os.readlink(f"/proc/self/fd/{fd}"), (dest / MANIFEST).exists()))
        real_syncfs(fd)

    monkeypatch.setattr(writeback, "syncfs", recording_syncfs)
    backup_module.backup([str(source)], str(dest))
    assert calls and {where for where, _ in calls} == {str(dest)}
    assert not any(manifest_there for _, manifest_there in calls)
    assert load_set(str(dest)).filesystems[0].archive.members == 22  # 20 files, /, lost+found


def test_a_write_error_on_the_sets_disk_fails_the_backup_and_leaves_no_manifest(
        source, tmp_path, monkeypatch):
    dest = tmp_path / "set"

    def failing_syncfs(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(writeback, "syncfs", failing_syncfs)
    with pytest.raises(RestoreError) as failed:
        backup_module.backup([str(source)], str(dest))
    assert failed.value.message == (f"Writing the backup set in {dest} to its disk failed: "
                                    "Input/output error.")
    assert "free space" in failed.value.hint
    assert not (dest / MANIFEST).exists()
    assert subprocess.run(["losetup", "-j", str(source)], capture_output=True,
                          text=True).stdout == ""
