"""Cloning onto disks of another size: plan, then apply, on image files.

The source is the fidelity disk (GPT: ESP kept as an image, ext4 root, xfs data, swap). It is
restored onto a target twice its size and onto one smaller than it but large enough for the
data. sfdisk must show exactly the planned layout, with the resize rules visible in it (fixed
ESP and swap, the rest shared in proportion, 1 MiB alignment), and the trees must be intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.system.clitool import cli, cli_backup
from tests.system.hardtree import rsync_differences, xattrs_and_acls_snapshot
from tests.system.images import (
    MiB,
    attached,
    blkid_of,
    make_source_disk,
    mounted,
    populate_source_disk,
    sfdisk_json,
)

pytestmark = pytest.mark.system

SOURCE_MIB = 512
RO = {2: ("ext4", "ro,noload"), 3: ("xfs", "ro,norecovery,nouuid")}



@pytest.fixture(scope="module")
def source(tmp_path_factory):
    base = tmp_path_factory.mktemp("clone")
    image = base / "source.img"
    make_source_disk(image, SOURCE_MIB)
    populate_source_disk(image)
    set_dir = cli_backup(image, base / "set")
    return image, set_dir


def blank(path: Path, mib: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(mib * MiB)
    return path


def partitions(image: Path) -> dict[int, tuple[int, int]]:
    """number -> (start, size) in bytes, as sfdisk reads the table."""
    table = sfdisk_json(image)["partitiontable"]
    sector = table.get("sectorsize", 512)
    return {int(p["node"].removeprefix(str(image))): (p["start"] * sector, p["size"] * sector)
            for p in table["partitions"]}


def planned(plan: dict) -> dict[int, tuple[int, int]]:
    layout = plan["disks"][0]["resized"]["disk"]
    return {p["number"]: (p["start"], p["size"]) for p in layout["partitions"]}


def plan_and_restore(source, target: Path, tmp_path: Path, *extra: str) -> dict:
    image, set_dir = source
    saved = tmp_path / "plan.json"
    proc = cli("plan", str(set_dir), "--map", f"{image}={target}", "--save", str(saved), *extra)
    assert proc.returncode == 0, proc.stderr
    assert target.stat().st_blocks == 0  # planning wrote nothing
    proc = cli("restore", "--plan", str(saved))
    assert proc.returncode == 0, proc.stderr
    return json.loads(saved.read_text())


def assert_trees_intact(image: Path, target: Path) -> None:
    with attached(image, read_only=True) as src, attached(target, read_only=True) as dst:
        for number in (1, 2, 3, 4):
            keys = ("TYPE", "UUID", "LABEL", "PARTUUID")
            a, b = blkid_of(src.partition(number)), blkid_of(dst.partition(number))
            assert {k: a.get(k) for k in keys} == {k: b.get(k) for k in keys}
        for number, (fstype, options) in RO.items():
            with mounted(src.partition(number), fstype, options) as a, \
                    mounted(dst.partition(number), fstype, options) as b:
                assert rsync_differences(a, b) == []
                assert xattrs_and_acls_snapshot(a) == xattrs_and_acls_snapshot(b)


def assert_aligned_and_ordered(layout: dict[int, tuple[int, int]], disk_size: int) -> None:
    ends = 0
    for number in sorted(layout, key=lambda n: layout[n][0]):
        start, size = layout[number]
        assert start % MiB == 0, (number, start)
        assert start >= ends and start >= MiB
        ends = start + size
    assert ends <= disk_size - 33 * 512  # room for the backup GPT


def test_clone_onto_a_disk_twice_the_size(source, tmp_path):
    image, _ = source
    target = blank(tmp_path / "large.img", 2 * SOURCE_MIB)
    plan = plan_and_restore(source, target, tmp_path)
    old, new = partitions(image), partitions(target)
    assert new == planned(plan)  # the table is the plan
    assert_aligned_and_ordered(new, 2 * SOURCE_MIB * MiB)
    assert new[1][1] == old[1][1] and new[4][1] == old[4][1]  # ESP and swap keep their size
    # ext4 and xfs share the rest in proportion to their original sizes.
    share = (new[2][1] + new[3][1]) / (old[2][1] + old[3][1])
    assert share > 2.0
    assert abs(new[2][1] - old[2][1] * share) <= MiB
    # Nothing of the larger disk is left unused (swap, last before, is last again).
    assert new[4][0] + new[4][1] >= 2 * SOURCE_MIB * MiB - 2 * MiB
    assert_trees_intact(image, target)


def test_clone_onto_a_smaller_disk_that_holds_the_data(source, tmp_path):
    image, set_dir = source
    root_used = next(fs["bytes_used"] for fs in json.loads(
        cli("inspect", str(set_dir), "--json").stdout)["filesystems"] if fs["type"] == "ext4")
    target = blank(tmp_path / "small.img", SOURCE_MIB - 48)
    plan = plan_and_restore(source, target, tmp_path)
    old, new = partitions(image), partitions(target)
    assert new == planned(plan)
    assert_aligned_and_ordered(new, (SOURCE_MIB - 48) * MiB)
    assert new[1][1] == old[1][1] and new[4][1] == old[4][1]
    assert new[3][1] == old[3][1]  # xfs cannot go below the 300 MiB mkfs.xfs needs
    assert root_used * 1.1 < new[2][1] < old[2][1]  # root gave the room, above its floor
    assert_trees_intact(image, target)


def test_plan_text_names_the_target_and_every_step(source, tmp_path):
    image, set_dir = source
    target = blank(tmp_path / "review.img", 2 * SOURCE_MIB)
    proc = cli("plan", str(set_dir), "--map", f"{image}={target}")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert f"{target}: 1.0 GiB ({2 * SOURCE_MIB * MiB:,} bytes)" \
        in text
    assert "OVERWRITTEN" in text
    for words in ("Wipe the old partition table", "Create a new gpt partition table",
                  "Create partition 4", "back from its saved image: vfat /boot/efi",
                  "Make ext4 on partition 2", "Make swap on partition 4",
                  "Mount ext4 / (partition 2) at /", "Mount xfs /srv/data (partition 3) at "
                  "/srv/data", "Restore filesystem", "Verify", "Copy the log"):
        assert words in text, words
    assert "fixed" in text and "scaled" in text  # the resize decisions are shown
    assert target.stat().st_blocks == 0


def test_restore_without_yes_shows_the_plan_and_writes_nothing(source, tmp_path):
    image, set_dir = source
    target = blank(tmp_path / "unconfirmed.img", 2 * SOURCE_MIB)
    proc = cli("restore", str(set_dir), "--map", f"{image}={target}")
    assert proc.returncode == 2
    assert "Steps:" in proc.stdout and "--yes" in proc.stderr
    assert target.stat().st_blocks == 0


def test_grow_last_keeps_sizes_and_grows_the_last_scalable(source, tmp_path):
    image, set_dir = source
    target = blank(tmp_path / "growlast.img", 2 * SOURCE_MIB)
    proc = cli("plan", str(set_dir), "--map", f"{image}={target}", "--resize", "grow-last",
               "--json")
    assert proc.returncode == 0, proc.stderr
    old, new = partitions(image), planned(json.loads(proc.stdout))
    assert new[1] == old[1] and new[2] == old[2]  # same places, same sizes
    assert new[3][1] > old[3][1] + 400 * MiB  # xfs, the last scalable one, takes the room
    assert new[4][1] == old[4][1]


def test_a_plan_for_another_disk_is_refused(source, tmp_path):
    image, set_dir = source
    target = blank(tmp_path / "planned.img", 2 * SOURCE_MIB)
    saved = tmp_path / "plan.json"
    proc = cli("plan", str(set_dir), "--map", f"{image}={target}", "--save", str(saved))
    assert proc.returncode == 0, proc.stderr
    os.truncate(target, 3 * SOURCE_MIB * MiB)  # another disk now answers to that name
    proc = cli("restore", "--plan", str(saved))
    assert proc.returncode == 1
    assert "is not the disk the plan was made for" in proc.stderr
    assert target.stat().st_blocks == 0


def test_disks_lists_an_image_target_and_what_makes_a_disk_unusable(source, tmp_path):
    image, set_dir = source
    target = blank(tmp_path / "listed.img", SOURCE_MIB)
    with attached(image, read_only=True):
        proc = cli("disks", str(set_dir), "--image", str(target), "--json")
    assert proc.returncode == 0, proc.stderr
    disks = {d["path"]: d for d in json.loads(proc.stdout)}
    assert disks[str(target)]["size"] == SOURCE_MIB * MiB and disks[str(target)]["problems"] == []
    loops = [d for d in disks.values() if d["backing_file"] == str(image)]
    # The attached source shows up as loop devices of its file (one per partition too, where
    # the kernel does not scan loop partitions).
    assert loops and all(d["transport"] == "loop" for d in loops)


def test_a_partition_override_from_the_command_line(source, tmp_path):
    image, set_dir = source
    target = blank(tmp_path / "override.img", 2 * SOURCE_MIB)
    proc = cli("plan", str(set_dir), "--map", f"{image}={target}", "--part", f"{image}:2=rest",
               "--json")
    assert proc.returncode == 0, proc.stderr
    old, new = partitions(image), planned(json.loads(proc.stdout))
    assert new[3][1] == old[3][1]  # xfs keeps its size: root takes all the room
    assert new[2][1] > old[2][1] + 400 * MiB
    proc = cli("plan", str(set_dir), "--map", f"{image}={target}", "--part", "/dev/sdz:2=rest")
    assert proc.returncode == 2 and "no disk named /dev/sdz" in proc.stderr
    proc = cli("plan", str(set_dir), "--map", f"{image}={target}", "--part", f"{image}:2=lots")
    assert proc.returncode == 2 and "not a resize override" in proc.stderr
