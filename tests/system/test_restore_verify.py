"""The verify of a whole restore on real images: an extraction that goes wrong (tar told not to
restore the times) is stopped in words, whether the verify ran beside the extraction or, its
child having failed, after it; nothing is left attached or mounted."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from console.core.applying import restore
from console.core.backupset import archive
from console.core.errors import RestoreError
from console.core.planning.choices import make_plan
from tests.system.clitool import cli, cli_backup
from tests.system.images import attached, make_one_ext4_disk, mounted

pytestmark = pytest.mark.system

MiB = 1024 * 1024
DISK_SIZE = 64 * MiB


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> tuple[Path, str]:
    base = tmp_path_factory.mktemp("restore-verify")
    source = base / "source.img"

    def fill(root: Path) -> None:
        for d in range(5):
            Path(root, f"dir-{d}").mkdir()
            for i in range(30):
                Path(root, f"dir-{d}", f"file-{i}").write_bytes(os.urandom(i * 100))

    make_one_ext4_disk(source, DISK_SIZE // MiB, fill)
    set_dir = cli_backup(source, base / "set")
    name = json.loads(cli("inspect", str(set_dir), "--json").stdout)["disks"][0]["name"]
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
    assert "/dir-0/file-0: mtime" in message
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
