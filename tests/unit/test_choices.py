"""The choice of a target for each original disk (console.core.planning.choices), from a real
manifest (tests/functional/data/web-01: sda 40 GiB, sdb 100 GiB) and targets as discovery
reports them."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.core.backupset.manifest import load_set
from console.core.disks.discovery import TargetDisk
from console.core.disks.problems import ProblemKind
from console.core.errors import RestoreError
from console.core.planning import choices as choices_module
from console.core.planning.choices import TargetChoices, minimum_target_size_for
from console.core.planning.resize import Override, ResizePolicy, minimum_target_size

WEB01 = str(Path(__file__).parent.parent / "functional" / "data" / "web-01")
GiB = 1024 ** 3
MiB = 1024 ** 2


def target(name: str, size: int, **kwargs) -> TargetDisk:
    return TargetDisk(path=f"/dev/{name}", name=name, size=size, logical_sector_size=512,
                      physical_sector_size=512, alignment=MiB, **kwargs)


def machine() -> list[TargetDisk]:
    return [target("sda", 40 * GiB, serial="QM00001"), target("sdb", 100 * GiB),
            target("sdc", 200 * GiB)]


def kinds(problems) -> list[ProblemKind]:
    return [p.kind for p in problems]


def test_the_suggestion_is_chosen_with_its_reasons():
    choices = TargetChoices(load_set(WEB01), machine())
    choices.apply_suggestion()
    assert choices.chosen == {"/dev/sda": "/dev/sda", "/dev/sdb": "/dev/sdb"}
    assert choices.reasons["/dev/sda"] == "same serial (QM00001)"


def test_the_suggestion_is_applied_only_where_the_layout_fits():
    backup_set = load_set(WEB01)
    # Root at 39 GiB leaves no room for the rest on the 40 GiB same drive.
    edit = ResizePolicy(overrides={2: Override("size", 39 * GiB)})
    choices = TargetChoices(backup_set, machine(), {"/dev/sda": edit})
    assert choices.suggested().chosen()["/dev/sda"] == "/dev/sda"
    choices.apply_suggestion()
    assert choices.chosen == {"/dev/sdb": "/dev/sdb"}
    sda = backup_set.disk("/dev/sda")
    assert kinds(choices.fit(sda, choices.target("/dev/sda")).problems) == [
        ProblemKind.LAYOUT_DOES_NOT_FIT]


def test_a_target_chosen_for_one_disk_is_taken_for_the_others():
    backup_set = load_set(WEB01)
    sda, sdb = backup_set.disks
    choices = TargetChoices(backup_set, machine())
    sdc = choices.target("/dev/sdc")
    choices.choose(sda, "/dev/sdc")
    assert choices.taken_by(sdb, sdc) == "/dev/sda"
    [taken] = choices.problems(sdb, sdc)
    assert (taken.kind, taken.words) == (ProblemKind.TAKEN, "chosen for /dev/sda")
    assert choices.taken_by(sda, sdc) is None and choices.problems(sda, sdc) == []


def test_a_disk_left_out_is_not_restored_and_loses_its_reason():
    backup_set = load_set(WEB01)
    choices = TargetChoices(backup_set, machine())
    choices.apply_suggestion()
    choices.leave_out(backup_set.disk("/dev/sdb"))
    assert choices.chosen == {"/dev/sda": "/dev/sda"} and "/dev/sdb" not in choices.reasons
    plan = choices.plan()
    assert plan.unmapped == ["/dev/sdb"]
    assert [d.reason for d in plan.disks] == ["same serial (QM00001)"]


def test_a_disk_chosen_by_the_operator_says_so_in_the_plan():
    backup_set = load_set(WEB01)
    choices = TargetChoices(backup_set, machine())
    choices.apply_suggestion()
    suggested = choices.reasons["/dev/sdb"]
    choices.choose(backup_set.disk("/dev/sda"), "/dev/sdc")
    plan = choices.plan()
    assert [(d.source, d.target.path, d.reason) for d in plan.disks] == [
        ("/dev/sda", "/dev/sdc", "chosen by you"), ("/dev/sdb", "/dev/sdb", suggested)]


def test_comparing_lets_a_read_only_disk_and_the_sets_own_disk_through_but_not_the_system():
    backup_set = load_set(WEB01)
    sda = backup_set.disk("/dev/sda")
    readable = target("sdx", 1 * GiB, holds_media=True, read_only=True,
                      mounted=["/dev/sdx1 is mounted at /media"])
    system = target("sdy", 40 * GiB, holds_system=True)
    comparing = TargetChoices(backup_set, [readable, system], comparing=True)
    assert comparing.fit(sda, readable).ok
    assert kinds(comparing.fit(sda, system).problems) == [ProblemKind.HOLDS_SYSTEM]
    restoring = TargetChoices(backup_set, [readable, system])
    assert kinds(restoring.fit(sda, readable).problems) == [
        ProblemKind.HOLDS_SET, ProblemKind.IN_USE, ProblemKind.READ_ONLY,
        ProblemKind.LAYOUT_DOES_NOT_FIT]


def test_why_a_target_is_unsafe_has_a_kind_and_words_and_json_keeps_the_words():
    disk = target("sdz", 10 * GiB, holds_media=True, holds_system=True, read_only=True,
                  mounted=["/dev/sdz1 is mounted at /mnt"], holders=["sdz2 is held by dm-0"])
    assert [(p.kind, p.words) for p in disk.unsafe()] == [
        (ProblemKind.HOLDS_SET, "holds the backup set being restored"),
        (ProblemKind.HOLDS_SYSTEM, "holds the running system"),
        (ProblemKind.IN_USE, "in use: /dev/sdz1 is mounted at /mnt"),
        (ProblemKind.IN_USE, "in use: sdz2 is held by dm-0"),
        (ProblemKind.READ_ONLY, "read-only")]
    assert disk.problems() == [p.words for p in disk.unsafe()]
    assert disk.to_json()["problems"] == disk.problems()
    assert all(type(p) is str for p in disk.to_json()["problems"])


def test_an_edit_the_layout_cannot_take_is_planned_again_when_the_policy_changes():
    backup_set = load_set(WEB01)
    sda = backup_set.disk("/dev/sda")
    choices = TargetChoices(backup_set, machine())
    on_40 = choices.target("/dev/sda")
    assert choices.fit(sda, on_40).ok
    choices.set_policy("/dev/sda", ResizePolicy(overrides={2: Override("size", 39 * GiB)}))
    assert kinds(choices.fit(sda, on_40).problems) == [ProblemKind.LAYOUT_DOES_NOT_FIT]


def test_disks_that_are_gone_are_no_longer_chosen():
    backup_set = load_set(WEB01)
    choices = TargetChoices(backup_set, machine())
    choices.apply_suggestion()
    assert choices.set_targets(machine()[1:]) == ["/dev/sda"]
    assert choices.chosen == {"/dev/sdb": "/dev/sdb"}


def test_the_minimum_size_is_the_resizes_never_above_the_original():
    backup_set = load_set(WEB01)
    for disk in backup_set.disks:
        needed = minimum_target_size(disk, backup_set.filesystems_on(disk.name))
        assert minimum_target_size_for(backup_set, disk) == min(needed, disk.size)
        assert TargetChoices(backup_set, []).minimum_size(disk) == min(needed, disk.size)


def test_the_command_lines_plan_refuses_exactly_below_the_models_minimum(monkeypatch, tmp_path):
    backup_set = load_set(WEB01)
    sdb = backup_set.disk("/dev/sdb")
    policy = ResizePolicy(overrides={1: Override("size", 50 * GiB)})  # the minimum follows it
    needed = TargetChoices(backup_set, [], {"/dev/sdb": policy}).minimum_size(sdb)
    assert 50 * GiB < needed < sdb.size

    def image(name: str, size: int) -> str:
        path = tmp_path / name
        with open(path, "wb") as f:
            f.truncate(size)
        return str(path)

    def as_discovered(set_path, named):
        return [TargetDisk(path=p, name=Path(p).name, size=Path(p).stat().st_size,
                           logical_sector_size=512, physical_sector_size=512, alignment=MiB,
                           is_image=True) for p in named]

    monkeypatch.setattr(choices_module, "check_leftovers", lambda target: None)
    monkeypatch.setattr(choices_module, "discover_targets", as_discovered)

    def plan_onto(path: str):
        return choices_module.make_plan(WEB01, {"/dev/sda": None, "/dev/sdb": path},
                                        {"/dev/sdb": policy})

    with pytest.raises(RestoreError, match="too small"):
        plan_onto(image("small.img", needed - 512))
    assert [d.target.size for d in plan_onto(image("enough.img", needed)).disks] == [needed]
