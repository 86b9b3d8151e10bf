"""The restore journal: which plan it belongs to, how it is written and read back, and the check
that the disks still are what it records. The disks here are descriptions (Disk from a table
read, Probe from blkid); the system tests check the same against real images."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import pytest

from console.core.applying import journal as journal_module
from console.core.applying.journal import (
    RESTORED,
    WRITTEN,
    Journal,
    fingerprint,
    journals_on,
    load,
    mismatches,
    write_atomically,
)
from console.core.disks.probe import Probe
from console.core.disks.safety import check_leftovers, our_mount_root
from console.core.errors import RestoreError
from console.core.layout import Disk
from console.core.planning.mapping import DiskMapping
from console.core.planning.plan import build_plan
from console.core.planning.resize import Override, ResizePolicy
from tests.unit.fakesys import FakeSys
from tests.unit.test_plan import GiB, target, two_disk_set

NOW = datetime(2026, 11, 2, 14, 2, tzinfo=timezone.utc)


def plan_for(mapping=None, targets=None, policies=None, backup_set=None):
    return build_plan(backup_set or two_disk_set(),
                      DiskMapping(mapping or {"/dev/sda": "/dev/vdb", "/dev/sdb": "/dev/vdc"}),
                      targets or [target("/dev/vdb", 40 * GiB, serial="S-B"),
                                  target("/dev/vdc", 10 * GiB)], policies)


def test_the_fingerprint_is_the_plan_and_changes_with_mapping_layout_and_set():
    base = fingerprint(plan_for())
    assert fingerprint(plan_for()) == base  # the same plan made again
    assert fingerprint(plan_for(targets=[target("/dev/vdd", 40 * GiB, serial="S-B"),
                                         target("/dev/vdc", 10 * GiB)],
                                mapping={"/dev/sda": "/dev/vdd", "/dev/sdb": "/dev/vdc"})) != base
    assert fingerprint(plan_for(targets=[target("/dev/vdb", 40 * GiB, serial="OTHER"),
                                         target("/dev/vdc", 10 * GiB)])) != base
    assert fingerprint(plan_for(policies={"/dev/sda": ResizePolicy(overrides={2: Override.parse("20G")})})) != base
    other_set = two_disk_set()
    other_set.set_id = "set-2"
    assert fingerprint(plan_for(backup_set=other_set)) != base
    moved = plan_for()
    moved.set_path = "/media/elsewhere"  # the same set, mounted somewhere else: still resumes
    assert fingerprint(moved) == base


def test_a_saved_journal_loads_back_for_its_plan_only(tmp_path):
    plan = plan_for()
    journal = Journal.begin(plan, NOW, str(tmp_path))
    journal.record_tables("/dev/vdb")
    journal.record_filesystem(2, RESTORED)
    journal.record_filesystem(1, WRITTEN)
    loaded, problem = load(plan, str(tmp_path))
    assert problem == ""
    assert loaded.tables == ["/dev/vdb"] and loaded.done == {1: WRITTEN, 2: RESTORED}
    assert loaded.started_at == NOW and loaded.targets == ["/dev/vdb", "/dev/vdc"]
    other = plan_for(policies={"/dev/sda": ResizePolicy(overrides={2: Override.parse("20G")})})
    assert load(other, str(tmp_path)) == (None, "")
    assert journals_on(["/dev/vdc"], str(tmp_path)) == [journal.path]
    assert journals_on(["/dev/sdz"], str(tmp_path)) == []
    loaded.delete()
    assert load(plan, str(tmp_path)) == (None, "")
    loaded.delete()  # twice is harmless
    loaded.record_filesystem(4, RESTORED)  # a write-back finishing late: not written again
    assert load(plan, str(tmp_path)) == (None, "")


def test_the_state_directory_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTORE_CONSOLE_STATE", str(tmp_path / "state"))
    journal = Journal.begin(plan_for(), NOW)
    journal.save()  # makes the directory
    assert os.path.dirname(journal.path) == str(tmp_path / "state")
    assert os.path.exists(journal.path)
    monkeypatch.delenv("RESTORE_CONSOLE_STATE")
    assert journal_module.state_dir() == "/var/lib/restore-console"


def test_a_damaged_journal_counts_as_none_and_says_so(tmp_path):
    plan = plan_for()
    journal = Journal.begin(plan, NOW, str(tmp_path))
    journal.record_tables("/dev/vdb")
    with open(journal.path, "r+b") as f:
        f.truncate(30)  # cut short, as by a full disk
    loaded, problem = load(plan, str(tmp_path))
    assert loaded is None
    assert problem == f"The journal of an earlier run ({journal.path}) is damaged and is not used."
    with open(journal.path, "w") as f:
        json.dump({**journal.to_json(), "done": {"2": "half-done"}}, f)
    assert load(plan, str(tmp_path))[0] is None


def test_an_atomic_write_leaves_the_old_content_when_it_fails(tmp_path, monkeypatch):
    path = str(tmp_path / "j.json")
    write_atomically(path, b"old")

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        write_atomically(path, b"new")
    assert open(path, "rb").read() == b"old"
    assert os.listdir(tmp_path) == ["j.json"]  # no temporary file left behind


def test_a_journal_that_cannot_be_written_stops_writing_but_not_the_restore(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    journal = Journal.begin(plan_for(), NOW, str(blocker / "state"))  # under a regular file
    journal.record_tables("/dev/vdb")  # no exception
    assert not journal.writable


def written_disks(plan) -> dict[str, Disk]:
    """The tables a finished table phase leaves: the plan's layouts, as read back."""
    return {d.target.path: Disk.from_json(d.layout.to_json()) for d in plan.disks}


def restored_probes(backup_set) -> dict[int, Probe]:
    return {fs.id: Probe(fs.type, fs.uuid.upper(), fs.label, 4096)
            for fs in backup_set.filesystems}


def recorded(plan) -> Journal:
    journal = Journal.begin(plan, NOW, "/nonexistent")
    journal.tables = ["/dev/vdb", "/dev/vdc"]
    journal.done = {1: WRITTEN, 2: RESTORED, 4: RESTORED}
    return journal


def test_disks_that_are_as_recorded_pass_the_check():
    backup_set = two_disk_set()
    plan = plan_for(backup_set=backup_set)
    assert mismatches(recorded(plan), plan, backup_set.filesystems, written_disks(plan),
                      restored_probes(backup_set)) == []


def test_a_changed_table_or_filesystem_fails_the_check_in_words():
    backup_set = two_disk_set()
    plan = plan_for(backup_set=backup_set)
    journal = recorded(plan)
    tables = written_disks(plan)
    tables["/dev/vdb"].partitions[1].start += 1024 * 1024
    tables["/dev/vdb"].partitions[0].partuuid = "another"
    tables["/dev/vdc"].partitions[0].type_uuid = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
    problems = mismatches(journal, plan, backup_set.filesystems, tables,
                          restored_probes(backup_set))
    assert any(p.startswith("partition 2 of /dev/vdb is at") for p in problems)
    assert "partition 1 of /dev/vdb has PARTUUID another, the plan p1" in problems
    assert any(p.startswith("partition 1 of /dev/vdc has type 0657FD6D") for p in problems)

    probes = restored_probes(backup_set)
    probes[4] = Probe("xfs", "0a0b-new", "home", 512)  # mkfs again in the meantime
    problems = mismatches(journal, plan, backup_set.filesystems, written_disks(plan), probes)
    assert problems == ["partition 1 of /dev/vdc holds xfs UUID 0a0b-new instead of the "
                        "restored xfs UUID u-home"]
    probes[4] = Probe("", "", "", 0)
    assert mismatches(journal, plan, backup_set.filesystems, written_disks(plan), probes) == [
        "partition 1 of /dev/vdc holds no filesystem instead of the restored xfs UUID u-home"]
    missing = written_disks(plan)
    missing["/dev/vdc"] = None
    assert mismatches(journal, plan, backup_set.filesystems, missing,
                      restored_probes(backup_set)) == ["/dev/vdc has no readable partition table"]


def test_a_filesystem_recorded_without_its_table_is_not_trusted():
    backup_set = two_disk_set()
    plan = plan_for(backup_set=backup_set)
    journal = recorded(plan)
    journal.tables = ["/dev/vdb"]
    problems = mismatches(journal, plan, backup_set.filesystems, written_disks(plan),
                          restored_probes(backup_set))
    assert problems == ["xfs /home is recorded as restored, but not the partition table it is on"]


def test_our_mount_roots_are_told_from_other_mounts(tmp_path):
    temp = str(tmp_path)
    assert our_mount_root(f"{temp}/restore-console-target-ab12/srv/data", temp) == \
        f"{temp}/restore-console-target-ab12"
    assert our_mount_root(f"{temp}/restore-console-mnt-x9", temp) == f"{temp}/restore-console-mnt-x9"
    assert our_mount_root(f"{temp}/other-mnt", temp) is None
    assert our_mount_root("/mnt/restore-console-target-ab12", temp) is None


def test_a_target_left_mounted_by_a_killed_restore_is_refused_with_the_commands(tmp_path):
    fake = FakeSys(tmp_path / "fake")
    image = tmp_path / "target.img"
    image.write_bytes(b"")
    temp = tmp_path / "tmp"
    fake.add_disk("loop3", "7:3", GiB, attrs={"loop/backing_file": str(image)},
                  partitions={"loop3p2": ("259:2", GiB // 2), "loop3p3": ("259:3", GiB // 4)})
    fake.add_disk("loop4", "7:4", GiB // 4, attrs={"loop/backing_file": str(image)})
    root = f"{temp}/restore-console-target-k1ll"
    fake.mount("259:2", root, "/dev/loop3p2")
    fake.mount("259:3", f"{root}/srv/data", "/dev/loop3p3", fstype="xfs")
    with pytest.raises(RestoreError) as refused:
        check_leftovers(str(image), fake.host, str(temp))
    assert refused.value.message == (
        f"{image} is still mounted by an earlier restore that was stopped without cleaning up: "
        f"/dev/loop3p2 at {root}, /dev/loop3p3 at {root}/srv/data. Nothing was written.")
    assert (f"clean up with: umount -R {root}; losetup -d /dev/loop3; losetup -d /dev/loop4 - then run "
            "the restore again") in refused.value.hint


def test_a_target_mounted_by_anybody_else_is_left_to_the_usual_refusal(tmp_path):
    fake = FakeSys(tmp_path / "fake")
    image = tmp_path / "target.img"
    image.write_bytes(b"")
    fake.add_disk("loop3", "7:3", GiB, attrs={"loop/backing_file": str(image)},
                  partitions={"loop3p2": ("259:2", GiB // 2)})
    fake.mount("259:2", "/mnt/mine", "/dev/loop3p2")
    check_leftovers(str(image), fake.host, str(tmp_path / "tmp"))  # no refusal of its own
