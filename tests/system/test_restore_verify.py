"""The verify of a whole restore on real images: an extraction that goes wrong (tar told not to
restore the times) is stopped in words, whether the verify ran beside the extraction or, its
child having failed, after it; nothing is left attached or mounted."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from console.core.applying import restore
from console.core.backupset import archive
from console.core.errors import RestoreError
from console.core.planning.choices import make_plan
from tests.system.clitool import small_ext4_set
from tests.system.images import attached, mounted

pytestmark = pytest.mark.system

MiB = 1024 * 1024
DISK_SIZE = 64 * MiB


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> tuple[Path, str]:
    _, set_dir, name = small_ext4_set(tmp_path_factory.mktemp("restore-verify"),
                                      DISK_SIZE // MiB, dirs=5, files=30, grain=100)
    return set_dir, name


def loop_devices_of(image: Path) -> str:
    return subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True).stdout


@pytest.mark.parametrize("where", ["beside the extraction", "after it"])
def test_an_extraction_that_goes_wrong_is_stopped_by_the_verify(small_set, tmp_path,
                                                                 monkeypatch, where):
    set_dir, name = small_set
    target = tmp_path / "target.img"
    with open(target, "wb") as f:
        f.truncate(DISK_SIZE)
    monkeypatch.setattr(archive, "TAR_EXTRACT", [*archive.TAR_EXTRACT, "--touch"])
    if where == "after it":
        monkeypatch.setattr(restore.LiveVerify, "result", lambda self: None)
    with pytest.raises(RestoreError) as raised:
        restore.apply_plan(make_plan(str(set_dir), {name: str(target)}))
    message = raised.value.message
    count, _, rest = message.partition(" restored entries differ from the catalog: ")
    assert rest and int(count) >= 5 * 30  # every file at least
    assert "/dir-0/file-0: modified " in message
    assert loop_devices_of(target) == ""


def test_a_right_restore_is_verified_beside_its_extraction(small_set, tmp_path, monkeypatch):
    set_dir, name = small_set
    target = tmp_path / "target.img"
    with open(target, "wb") as f:
        f.truncate(DISK_SIZE)
    checked_here = []
    monkeypatch.setattr(restore, "check_filesystem",
                        lambda *args, **kwargs: checked_here.append(args))
    result = restore.apply_plan(make_plan(str(set_dir), {name: str(target)}))
    assert checked_here == []  # the child's result was used
    assert result.verified == 5 * 31 + 2  # the files, their directories, / and lost+found
    with attached(target, read_only=True) as loop, mounted(loop.partition(1), "ext4",
                                                           "ro") as root:
        assert len(list(Path(root, "dir-4").iterdir())) == 30
