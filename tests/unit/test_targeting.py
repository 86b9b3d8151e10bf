"""Which targets an original disk can go onto, the plan the screens build, and its totals, from
a real manifest (tests/functional/data/web-01) and targets as discovery reports them."""

from __future__ import annotations

from pathlib import Path

from console.core.backupset.manifest import load_set
from console.core.disks.discovery import TargetDisk
from console.core.planning.choices import TargetChoices
from console.core.planning.resize import Override, ResizePolicy
from console.tui.job import Job, JobKind, Totals
from widgets.partition_bar import resized_segments

WEB01 = str(Path(__file__).parent.parent / "functional" / "data" / "web-01")
GiB = 1024 ** 3
MiB = 1024 ** 2


def target(name: str, size: int, **kwargs) -> TargetDisk:
    return TargetDisk(path=f"/dev/{name}", name=name, size=size, logical_sector_size=512,
                      physical_sector_size=512, alignment=MiB, **kwargs)


def fit(backup_set, disk, target, policy=None, *, writing=True):
    choices = TargetChoices(backup_set, [target], {disk.name: policy} if policy else None,
                            comparing=not writing)
    return choices.fit(disk, target)


def plan_for(backup_set, chosen, targets, policies=None):
    choices = TargetChoices(backup_set, targets, policies)
    for name, path in chosen.items():
        choices.choose(backup_set.disk(name), path)
    return choices.plan()


def test_a_disk_fits_larger_and_smaller_targets_and_says_why_not():
    backup_set = load_set(WEB01)
    sda, sdb = backup_set.disks
    assert fit(backup_set, sda, target("x", 40 * GiB)).resized.mode == "same geometry"
    assert fit(backup_set, sda, target("x", 20 * GiB)).ok  # 9.4 GiB used fits smaller
    small = fit(backup_set, sdb, target("x", 40 * GiB))
    assert not small.ok and small.resized is None
    assert small.words[0].startswith("The layout of /dev/sdb does not fit on a target of "
                                        "40.0 GiB")
    assert "×" not in small.words[0]  # drawn as x: the VGA font lacks it
    unsafe = fit(backup_set, sda, target("x", 40 * GiB, holds_media=True))
    assert unsafe.words == ["holds the backup set being restored"]
    # Comparing only reads: the set's own disk and a read-only one are fine there.
    assert fit(backup_set, sda, target("x", 1 * GiB, holds_media=True, read_only=True),
               writing=False).ok
    # An edit the layout cannot take is a problem in the resize's words.
    policy = ResizePolicy(overrides={2: Override("size", 39 * GiB)})
    refused = fit(backup_set, sda, target("x", 40 * GiB), policy)
    assert "does not fit" in refused.words[0]


def test_suggestion_and_plan_with_an_edit():
    backup_set = load_set(WEB01)
    targets = [target("sda", 40 * GiB, serial="QM00001"), target("sdb", 100 * GiB),
               target("sdc", 200 * GiB)]
    suggested = TargetChoices(backup_set, targets).suggested()
    assert suggested.chosen() == {"/dev/sda": "/dev/sda", "/dev/sdb": "/dev/sdb"}
    plan = plan_for(backup_set, {"/dev/sda": "/dev/sdc"}, targets,
                    {"/dev/sda": ResizePolicy(overrides={2: Override("rest")})})
    (disk,) = plan.disks
    assert disk.reason == "chosen by you" and plan.unmapped == ["/dev/sdb"]
    assert disk.resized.decision(2).rule == "rest"
    # The bar of the new layout says old and new size where they differ.
    notes = [s.note for s in resized_segments(disk.resized, backup_set.filesystems)]
    assert "30.0 GiB->190.0 GiB" in notes


def test_totals_come_from_the_plan():
    backup_set = load_set(WEB01)
    targets = [target("sda", 40 * GiB), target("sdb", 100 * GiB)]
    plan = plan_for(backup_set, {"/dev/sda": "/dev/sda"}, targets)
    job = Job(JobKind.RESTORE, backup_set, {"/dev/sda": "/dev/sda"}, plan=plan)
    archives = {fs.id: fs.archive for fs in backup_set.filesystems}
    totals = job.totals()
    # The raw image of partition 1 and the two file archives; swap has nothing to write.
    assert totals.bytes == archives[1].uncompressed_size + archives[2].uncompressed_size + \
        archives[4].uncompressed_size
    assert totals.files == 182345 + 40211
    assert totals.verify_bytes == backup_set.filesystem(2).bytes_used + \
        backup_set.filesystem(4).bytes_used
    compare = Job(JobKind.VERIFY, backup_set, {"/dev/sdb": "/dev/sdb"}).totals()
    assert (compare.bytes, compare.verify_bytes) == (0, backup_set.filesystem(5).bytes_used)
    assert Job(JobKind.FILES, backup_set, files_totals=Totals(10, 2)).totals() == Totals(10, 2)
