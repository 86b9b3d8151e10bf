"""An interrupted whole-disk restore, run again, resumes at the filesystem it stopped in and
ends with the same disks as a restore from scratch.

The source is the fidelity disk (GPT: ESP kept as an image, ext4 /, xfs /srv/data, swap), with
a large file on the xfs so that its restore lasts long enough to be interrupted in. The restore
runs as the command line does, in a subprocess, with its journal in a directory of the test
(RESTORE_CONSOLE_STATE). What is checked uses the standard tools: sfdisk --json, blkid,
dumpe2fs (the ext4 directory hash seed is random per mkfs: unchanged means not made again),
rsync -naHAX --checksum, /proc/self/mountinfo and losetup.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.system.clitool import TEST_LOG, cli, cli_backup
from tests.system.images import (
    MiB,
    attached,
    make_source_disk,
    mounted,
    populate_source_disk,
    sfdisk_json,
)
from tests.system.test_clone import assert_trees_intact

pytestmark = pytest.mark.system

SOURCE_MIB = 512
BULK_MIB = 128  # on the xfs: its restore takes long enough to be interrupted in
ROOT_FS_TITLE = "ext4 /"


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    base = tmp_path_factory.mktemp("resume")
    image = base / "source.img"
    make_source_disk(image, SOURCE_MIB)
    populate_source_disk(image)
    with attached(image) as disk, mounted(disk.partition(3), "xfs") as data:
        with open(data / "bulk", "wb") as f:
            for _ in range(BULK_MIB):
                f.write(os.urandom(MiB))
    set_dir = cli_backup(image, base / "set")
    inspected = json.loads(cli("inspect", str(set_dir), "--json").stdout)
    root_id = next(fs["id"] for fs in inspected["filesystems"] if fs["mountpoint"] == "/")
    return image, set_dir, root_id


class Run:
    """The restore command in a subprocess; its stderr read line by line on a thread."""

    def __init__(self, source, target: Path, state: Path):
        image, set_dir, _ = source
        env = {**os.environ, "RESTORE_CONSOLE_STATE": str(state)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "console", "--log", TEST_LOG, "restore", str(set_dir),
             "--map", f"{image}={target}", "--yes"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_until(self, condition, what: str, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if self.proc.poll() is not None:
                self._reader.join(5)
                raise AssertionError(f"the restore ended before {what}:\n" + self.stderr)
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"gave up waiting for {what}:\n" + self.stderr)
            time.sleep(0.01)

    def finish(self) -> int:
        code = self.proc.wait(300)
        self._reader.join(10)
        self.stdout = self.proc.stdout.read()
        return code

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)


def restore(source, target: Path, state: Path) -> Run:
    run = Run(source, target, state)
    run.finish()
    return run


def journal(state: Path) -> dict:
    """The one journal in the state directory ({} while there is none or it is being
    replaced)."""
    names = [n for n in os.listdir(state) if n.endswith(".json")] if state.exists() else []
    if len(names) != 1:
        return {}
    try:
        return json.loads((state / names[0]).read_text())
    except (OSError, ValueError):
        return {}


def interrupted(source, target: Path, state: Path, sig: int) -> Run:
    """A restore stopped with sig while it restores the xfs, the second tar filesystem, once
    the journal has the ext4 root as restored."""
    _, _, root_id = source
    run = Run(source, target, state)
    run.wait_until(lambda: any(re.match(r"\[\d+/\d+\] Restore filesystem \d+ \(xfs", line)
                               for line in run.lines), "the restore of the xfs")
    run.wait_until(lambda: journal(state).get("done", {}).get(str(root_id)) == "restored",
                   "the journal recording the ext4 root")
    run.proc.send_signal(sig)
    code = run.finish()
    assert code == (1 if sig == signal.SIGINT else -signal.SIGKILL), run.stderr
    return run


def blank(path: Path) -> Path:
    with open(path, "wb") as f:
        f.truncate(SOURCE_MIB * MiB)
    return path


def loops_of(image: Path) -> str:
    return subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True,
                          check=True).stdout.strip()


def mounts_of(image: Path) -> list[str]:
    """Mount points of the image's loop devices and their partitions (this machine is shared:
    other mounts are not the test's business)."""
    loops = [line.split(":")[0] for line in loops_of(image).splitlines()]
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            source = fields[fields.index("-") + 2]
            if any(source == loop or source.startswith(loop + "p") for loop in loops):
                found.append(fields[4])
    return found


def root_fs_identity(target: Path) -> tuple[str, str]:
    """What a new mkfs.ext4 changes even with the same UUID: the random directory hash seed
    and the creation time."""
    with attached(target, read_only=True) as disk:
        text = subprocess.run(["dumpe2fs", "-h", disk.partition(2)], capture_output=True,
                              text=True, check=True).stdout
    fields = dict(re.findall(r"^([A-Za-z ]+):\s+(.*)$", text, re.M))
    return fields["Directory Hash Seed"], fields["Filesystem created"]


def table(image: Path) -> dict:
    found = sfdisk_json(image)["partitiontable"]
    for part in found["partitions"]:
        part.pop("node")
    found.pop("device")
    found.pop("firstlba", None)  # pyparted starts GPT's usable area at LBA 34, sfdisk at 2048
    return found


def assert_same_as_the_source(source, target: Path, state: Path) -> None:
    image, _, _ = source
    assert table(target) == table(image)
    assert_trees_intact(image, target)  # blkid TYPE/UUID/LABEL/PARTUUID, rsync, xattrs, ACLs
    assert journal(state) == {} and not any(state.iterdir())  # a finished restore drops it
    assert mounts_of(target) == [] and loops_of(target) == ""


def test_an_interrupted_restore_resumes_after_the_filesystems_it_finished(source, tmp_path):
    target, state = blank(tmp_path / "target.img"), tmp_path / "state"
    first = interrupted(source, target, state, signal.SIGINT)
    # Ctrl-C cancels as the console's c does: at a safe point, saying where it stopped.
    assert re.search(r"restore-console: The restore was cancelled in step \d+ of \d+ "
                     r"\(Restore filesystem \d+ \(xfs /srv/data\).*\): the partition table of "
                     r"target\.img is written; vfat /boot/efi and ext4 / are restored; xfs "
                     r"/srv/data is partly restored\.", first.stderr), first.stderr
    assert "Run the same restore again: it resumes after what is done." in first.stderr
    assert "Traceback" not in first.stderr
    assert mounts_of(target) == [] and loops_of(target) == ""  # Ctrl-C cleans up
    recorded = journal(state)
    assert recorded["tables"] == [str(target)]
    identity = root_fs_identity(target)

    second = restore(source, target, state)
    assert second.proc.returncode == 0, second.stderr
    assert re.search(r"Resuming the restore started at \d\d:\d\d: the partition table and 2 of 3 "
                     r"filesystems \(vfat /boot/efi, ext4 /\) are already restored; xfs "
                     r"/srv/data is restored again from the start\.", second.stderr), second.stderr
    skipped = [line for line in second.lines if line.endswith("(already done: skipped)")]
    assert any("Wipe the old partition table" in line for line in skipped)
    assert any("Make ext4 on partition 2" in line for line in skipped)
    assert any("Restore filesystem" in line and "(ext4 /)" in line for line in skipped)
    assert not any("(xfs /srv/data)" in line for line in skipped)
    assert "Resumed an interrupted restore: vfat /boot/efi, ext4 / were already restored." \
        in second.stdout
    assert root_fs_identity(target) == identity  # the ext4 root was not made again
    assert_same_as_the_source(source, target, state)


def test_a_filesystem_changed_since_the_interruption_makes_the_restore_start_over(source,
                                                                                  tmp_path):
    target, state = blank(tmp_path / "target.img"), tmp_path / "state"
    interrupted(source, target, state, signal.SIGINT)
    with attached(target) as disk:  # somebody made another filesystem there meanwhile
        subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "other", disk.partition(2)], check=True)
    changed = root_fs_identity(target)

    second = restore(source, target, state)
    assert second.proc.returncode == 0, second.stderr
    assert "but the disks no longer match it: partition 2 of" in second.stderr
    assert "The restore starts from the beginning." in second.stderr
    assert "Resuming" not in second.stderr and "skipped" not in second.stderr
    assert root_fs_identity(target) != changed
    assert_same_as_the_source(source, target, state)


def test_a_killed_restore_is_refused_with_the_commands_that_clean_up_then_resumes(source,
                                                                                  tmp_path):
    target, state = blank(tmp_path / "target.img"), tmp_path / "state"
    interrupted(source, target, state, signal.SIGKILL)
    assert mounts_of(target) != [] and loops_of(target) != ""  # nobody cleaned up

    refused = restore(source, target, state)
    assert refused.proc.returncode == 1
    assert "is still mounted by an earlier restore that was stopped" in refused.stderr
    commands = re.search(r"clean up with: (.*) - then run the restore again", refused.stderr)
    assert commands, refused.stderr
    commands = commands.group(1).split("; ")
    assert commands[0].startswith("umount -R ") and "restore-console-target-" in commands[0]
    assert any(c.startswith("losetup -d /dev/loop") for c in commands)
    for command in commands:
        for attempt in range(20):  # tar, fed by the killed console, may still be exiting
            if subprocess.run(command.split(), capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"{command} failed")
    assert mounts_of(target) == [] and loops_of(target) == ""

    resumed = restore(source, target, state)
    assert resumed.proc.returncode == 0, resumed.stderr
    assert "Resuming the restore started at" in resumed.stderr
    assert "ext4 /) are already restored" in resumed.stderr
    assert_same_as_the_source(source, target, state)
