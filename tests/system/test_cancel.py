"""A whole-disk restore cancelled mid-way, on real disk images: it stops at the next safe point,
says what state the target is in, leaves nothing mounted or attached, keeps its journal, and
the same restore run again resumes and ends with the disks of the set.

The source is the disk of test_clone (GPT: ESP kept as an image, ext4 /, xfs /srv/data, swap)
with a file of several frames on the xfs, so that the cancel, given from the listener once the
xfs's first files are out, lands inside that filesystem's extraction: no timing involved.
What is checked uses the standard tools: findmnt, losetup, rsync, blkid.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from console.core.applying.restore import apply_plan
from console.core.backupset.seekable import FRAME_SIZE
from console.core.errors import Cancelled
from console.core.events import Progress
from console.core.planning.choices import make_plan
from tests.system.clitool import cli_backup
from tests.system.images import (
    MiB,
    attached,
    make_source_disk,
    mounted,
    populate_source_disk,
)
from tests.system.test_clone import assert_trees_intact

pytestmark = pytest.mark.system

SOURCE_MIB = 512
SECOND = "Restoring xfs /srv/data"  # the second filesystem restored from a tar archive


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    base = tmp_path_factory.mktemp("cancel")
    image = base / "source.img"
    make_source_disk(image, SOURCE_MIB)
    populate_source_disk(image)
    with attached(image) as disk, mounted(disk.partition(3), "xfs") as data:
        (data / "bulk").write_bytes(os.urandom(4 * FRAME_SIZE))
    return image, cli_backup(image, base / "set")


def state_journals() -> list[dict]:
    state = Path(os.environ["RESTORE_CONSOLE_STATE"])  # the test's own
    return [json.loads(p.read_text()) for p in state.glob("restore-*.json")]


def findmnt() -> str:
    return subprocess.run(["findmnt", "--raw", "--noheadings", "-o", "SOURCE,TARGET"],
                          capture_output=True, text=True, check=True).stdout


def loops_of(image: Path) -> str:
    """losetup -a, the lines of this image (the machine is shared with other tests)."""
    listed = subprocess.run(["losetup", "-a"], capture_output=True, text=True,
                            check=True).stdout
    return "".join(line for line in listed.splitlines(keepends=True) if str(image) in line)


def test_a_cancelled_restore_stops_cleans_up_keeps_its_journal_and_resumes(source, tmp_path,
                                                                          monkeypatch):
    image, set_dir = source
    # Journals of this test only: other tests of the session keep theirs in the shared one.
    monkeypatch.setenv("RESTORE_CONSOLE_STATE", str(tmp_path / "state"))
    target = tmp_path / "target.img"
    with open(target, "wb") as f:
        f.truncate(SOURCE_MIB * MiB)
    plan = make_plan(str(set_dir), {str(image): str(target)})
    cancel = threading.Event()
    after_cancel: list[Progress] = []

    def listener(event) -> None:
        if isinstance(event, Progress) and event.step == SECOND:
            if cancel.is_set():
                after_cancel.append(event)
            elif event.files_done >= 1:
                cancel.set()  # as the console does when the operator answers yes

    with pytest.raises(Cancelled) as raised:
        apply_plan(plan, listener, cancel)

    said = f"{raised.value.message} {raised.value.hint}"
    assert "The restore was cancelled in step" in said and "(xfs /srv/data)" in said
    assert f"the partition table of {target.name} is written" in said
    assert "vfat /boot/efi and ext4 / are restored" in said
    assert "xfs /srv/data is partly restored" in said
    assert "will not boot as it is. Run the same restore again: it resumes" in said
    assert [p for p in after_cancel if p.bytes_done >= p.bytes_total] == []  # it stopped
    assert "restore-console-target-" not in findmnt()
    loops = [line.split(":")[0] for line in loops_of(target).splitlines()]
    assert loops == [] and not any(loop in findmnt() for loop in loops)
    journals = state_journals()
    assert len(journals) == 1 and journals[0]["tables"] == [str(target)]
    assert sorted(journals[0]["done"].values()) == ["restored", "written"]  # ESP, ext4 /

    result = apply_plan(make_plan(str(set_dir), {str(image): str(target)}))
    assert result.resumed == ["vfat /boot/efi", "ext4 /"]
    assert result.verified > 0  # the Verify step compared every entry with the catalog
    assert state_journals() == []
    assert loops_of(target) == "" and "restore-console-target-" not in findmnt()
    assert_trees_intact(image, target)
