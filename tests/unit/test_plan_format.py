"""Saved plans of format 1 keep loading, saving and reading as the console before typed steps
made them (tests/unit/data: a plan and its rendering made once on commit c37f77d; the rendering
changed on purpose since: the target lines to IEC sizes with the bytes, 64.0 GiB (68,719,...);
then the disks' titles over the steps made again in IEC units (the saved titles say 68.7 GB),
a "Boot loader:" part, and the saved-image step's words; then the finalize's words: the log
and the plan go into /var/log/restore-console/)."""

from __future__ import annotations

import json
import os
from dataclasses import fields

import pytest

from console.core.applying.restore import _HANDLERS
from console.core.disks.discovery import TargetDisk
from console.core.errors import RestoreError
from console.core.planning.plan import Plan, PlannedTarget, build_plan, render
from console.core.planning.steps import (
    STEP_KINDS,
    CreateArray,
    CreateLuks,
    CreatePartition,
    CreatePhysicalVolume,
    CreateTable,
    CreateVolumeGroup,
    Finalize,
    InstallBootLoader,
    MakeFilesystem,
    Mount,
    RebuildInitramfs,
    Restore,
    RewriteReferences,
    SetIdentifiers,
    Step,
    Verify,
    Wipe,
    WriteBootArea,
    WriteImage,
)
from console.tui.job import Job, JobKind, Totals
from tests.unit.data.make_plan_format_1 import backup_set, mapping, targets

MiB = 1024 * 1024
GiB = 1024 * MiB

DATA = os.path.join(os.path.dirname(__file__), "data")


def saved() -> dict:
    with open(os.path.join(DATA, "plan-format-1.json")) as f:
        return json.load(f)


def test_a_saved_plan_loads_with_typed_steps_and_saves_the_same_json():
    data = saved()
    plan = Plan.from_json(data)
    assert [type(s) for s in plan.steps] == (
        [Wipe, CreateTable] + [CreatePartition] * 5 + [SetIdentifiers] + [MakeFilesystem] * 4
        + [Wipe, CreateTable] + [CreatePartition] * 3
        + [SetIdentifiers, WriteBootArea, WriteImage, MakeFilesystem]
        + [Mount, Restore] * 4 + [Verify, Finalize])
    assert plan.to_json() == data
    with open(os.path.join(DATA, "plan-format-1.json")) as f:
        assert json.dumps(plan.to_json(), indent=1) + "\n" == f.read()


def test_a_saved_plan_reads_as_it_did():
    with open(os.path.join(DATA, "plan-format-1.txt")) as f:
        assert render(Plan.from_json(saved())) + "\n" == f.read()


def test_the_steps_and_targets_of_a_saved_plan_have_their_details_as_fields():
    plan = Plan.from_json(saved())
    nvme, sdd = (d.target for d in plan.disks)
    assert isinstance(nvme, PlannedTarget)
    assert (nvme.path, nvme.size, nvme.serial, nvme.model, nvme.wwn) == (
        "/dev/nvme0n1", 64 * 1024**3, "S64ANS0T123456", "Samsung SSD 980", "eui.002538b111b2c3d4")
    assert nvme.title == "nvme0n1: 68.7 GB Samsung SSD 980 (serial S64ANS0T123456)"
    assert sdd.title == "sdd: 8.6 GB Ultra Fit (serial 4C530001)"  # as it was saved
    # The plan names the disk as discovery does today, from the saved fields: in IEC units.
    assert plan.disks[1].title == "sdd: 8.0 GiB Ultra Fit (serial 4C530001)"
    assert sdd.removable and sdd.problems == []
    assert plan.steps[16] == CreatePartition("/dev/sdd", number=5, start=258 * 1024**2,
                                             size=8 * 1024**3 - 259 * 1024**2, kind="logical",
                                             holds="ext4 /var/log")
    assert plan.steps[18] == WriteBootArea("/dev/sdd", source="/dev/sdb")
    assert plan.steps[-2] == Verify(fs=(1, 2, 4, 6))
    assert plan.steps[-1] == Finalize(log=True)


def test_a_plan_made_today_from_the_same_set_is_the_saved_one():
    made = build_plan(backup_set(), mapping(), targets()).to_json()
    # The targets' titles say their sizes in IEC units since (64.0 GiB, not 68.7 GB): the only
    # difference, on purpose.
    assert [d["target"]["title"] for d in made["disks"]] == [
        "nvme0n1: 64.0 GiB Samsung SSD 980 (serial S64ANS0T123456)",
        "sdd: 8.0 GiB Ultra Fit (serial 4C530001)"]
    # A swap without a mount point or label is "swap" since, not "swap /dev/sda4": the only
    # other difference, on purpose.
    old = json.loads(json.dumps(saved()).replace('"swap /dev/sda4"', '"swap"'))
    for disk, old_disk in zip(made["disks"], old["disks"]):
        disk["target"]["title"] = old_disk["target"]["title"]
    # The finalize rewrites the restored system's references to disks since (issue 16), and
    # says why grub is not installed again (the set has no grub): the last difference.
    assert made["steps"][-2] == {"action": "rewrite-references", "target": "",
                                 "detail": {"uuids": {}}}
    del made["steps"][-2]
    assert made.pop("boot_loader") == "The set found no boot loader on its disks: none is " \
                                      "installed."
    assert made == old


def test_the_plan_counts_what_the_restore_writes():
    plan = Plan.from_json(saved())
    totals = plan.totals(backup_set())
    # Four tar archives, the raw image of the vfat (256 MiB) and the boot area (1 MiB), as the
    # job counted them before the plan did.
    assert (totals.bytes, totals.files) == (12_814_647_296, 232_667)
    job = Job(JobKind.RESTORE, backup_set(),
              mapping={"/dev/sda": "/dev/nvme0n1", "/dev/sdb": "/dev/sdd"},
              plan=plan)
    assert job.totals() == Totals(12_814_647_296, 232_667, 12_545_163_264)


def test_every_kind_of_step_has_a_handler_and_survives_json():
    assert set(_HANDLERS) == set(STEP_KINDS.values())
    plan = Plan.from_json(saved())
    finalize = [RewriteReferences(uuids={"0d9f3a1e-old": "5b7c2e44-new"}),
                InstallBootLoader("/dev/nvme0n1", firmware="efi", partition=1,
                                  efi_directory="/boot/efi"),
                InstallBootLoader("/dev/sdd", firmware="bios", partition=0),
                RebuildInitramfs(),
                # the layers' steps (the saved plan has none: its set has no stack)
                CreatePhysicalVolume("/dev/sdd", group="vg0", uuid="pv-uuid", partition=2,
                                     size=GiB),
                CreateVolumeGroup("/dev/sdd", group="vg0", uuid="vg-uuid",
                                  sizes={"root": GiB, "swap_1": 64 * MiB}),
                CreateLuks("/dev/sdd", uuid="luks-uuid", partition=3, size=GiB,
                           name="sdd3_crypt", version=2, cipher="aes-xts-plain64",
                           key_size=512),
                CreateArray("/dev/sdd", uuid="a:b:c:d", device="/dev/md0", level="raid1",
                            metadata="1.2", name="host:0", members=("/dev/sdd:4", "missing"),
                            size=GiB)]
    assert {type(s) for s in plan.steps + finalize} == set(STEP_KINDS.values())
    for step in plan.steps + finalize:
        assert Step.from_json(json.loads(json.dumps(step.to_json()))) == step
        assert STEP_KINDS[step.action] is type(step)


def test_a_planned_target_keeps_what_discovery_says_of_a_disk():
    names = [f.name for f in fields(PlannedTarget)]
    assert names == [f.name for f in fields(TargetDisk)] + ["problems", "title"]


def test_an_unknown_step_is_refused_in_words():
    data = saved()
    data["steps"][0]["action"] = "format-everything"
    with pytest.raises(RestoreError, match="unknown step 'format-everything'"):
        Plan.from_json(data)


def test_a_step_with_other_details_is_refused_as_unreadable():
    data = saved()
    data["steps"][2]["detail"]["colour"] = "blue"
    with pytest.raises(ValueError, match="create-partition step has the details"):
        Plan.from_json(data)
    data = saved()
    data["disks"][0]["target"]["colour"] = "blue"
    with pytest.raises(ValueError, match="unknown keys"):
        Plan.from_json(data)
    data = saved()
    del data["disks"][1]["target"]["size"]
    with pytest.raises(ValueError, match="lacks keys"):
        Plan.from_json(data)
