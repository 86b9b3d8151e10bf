"""The LVs of a volume group resized onto a group of another size: properties over random
groups (every LV at least its floor, the sum never above the group, fixed volumes unchanged,
overrides honoured) and named cases (the Debian installer's layout on a larger and a smaller
disk)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from console.core.errors import RestoreError, UsageError
from console.core.layout import Archive, Filesystem, LogicalVolume, VolumeGroup
from console.core.planning.lvresize import (
    FREE,
    VolumePolicy,
    copies,
    describe_group,
    minimum_group_size,
    resize_group,
)
from console.core.planning.resize import Override

MiB = 1024 * 1024
GiB = 1024 * MiB
E = 4 * MiB


def lv(name: str, size: int, type: str = "linear") -> LogicalVolume:
    return LogicalVolume(name=name, uuid=f"uuid-{name}", size=size, type=type)


def fs_in(vg: str, name: str, used: int, fstype: str = "ext4", mountpoint: str = "",
          id: int = 1) -> Filesystem:
    return Filesystem(id=id, disk="/dev/sda", partition=0, device=f"/dev/mapper/{vg}-{name}",
                      type=fstype, mountpoint=mountpoint, bytes_used=used,
                      archive=None if fstype == "swap" else Archive("tar", [], used),
                      on=f"lv:{vg}/{name}")


def group(lvs: list[LogicalVolume], free_extents: int = 0, name: str = "vg0") -> VolumeGroup:
    extents = sum(-(-v.size // E) * copies(v) for v in lvs) + free_extents
    return VolumeGroup(name=name, uuid="vg-uuid", extent_size=E, size=extents * E,
                       extents=extents, lvs=lvs)


def debian(root_used: int = 2 * GiB, home_used: int = 1 * GiB):
    """/ , swap_1 and /home in one group, as the Debian installer's 'separate /home' recipe."""
    vg = group([lv("root", 8 * GiB), lv("swap_1", 1 * GiB), lv("home", 11 * GiB)])
    filesystems = [fs_in("vg0", "root", root_used, mountpoint="/", id=2),
                   fs_in("vg0", "swap_1", 0, fstype="swap", id=3),
                   fs_in("vg0", "home", home_used, mountpoint="/home", id=4)]
    return vg, filesystems


# -- named cases ----------------------------------------------------------------------------

def test_on_a_group_twice_as_large_swap_keeps_its_size_and_root_and_home_share_the_rest():
    vg, filesystems = debian()
    resized = resize_group(vg, filesystems, 2 * vg.extents)
    sizes = {d.name: d.new_size for d in resized.decisions}
    root = 8 * 39 * GiB // 19 // E * E  # 8 of the 19 scalable GiB, of the 39 left by swap
    assert sizes == {"root": root, "swap_1": 1 * GiB, "home": 39 * GiB - root}
    assert resized.decision("swap_1").rule == "fixed"
    assert resized.decision("root").rule == "scaled"


def test_on_a_smaller_group_a_volume_is_held_at_its_data_plus_ten_percent():
    vg, filesystems = debian(root_used=5 * GiB, home_used=1 * GiB)
    resized = resize_group(vg, filesystems, (10 * GiB) // E)
    root = resized.decision("root")
    floor = -(-(math.ceil(5 * GiB * Fraction(1.1)) + 64 * MiB) // E) * E
    assert root.rule == "floored" and root.new_size == floor == root.floor
    assert "5.0 GiB used × 1.1" in root.why
    assert resized.decision("home").new_size == 10 * GiB - floor - 1 * GiB


def test_a_group_too_small_for_the_data_is_refused_naming_the_volume_and_the_smallest_group():
    vg, filesystems = debian(root_used=5 * GiB)
    smallest = minimum_group_size(vg, filesystems)
    with pytest.raises(RestoreError) as refused:
        resize_group(vg, filesystems, smallest // E - 1)
    assert "root (ext4 /" in refused.value.message
    assert f"at least {smallest:,}".replace(",", "") in refused.value.message.replace(",", "") \
        or "It fits in a group of at least" in refused.value.message
    resize_group(vg, filesystems, smallest // E)  # and the smallest one fits


def test_free_extents_of_the_source_scale_with_the_group():
    vg = group([lv("root", 4 * GiB), lv("data", 4 * GiB)], free_extents=(2 * GiB) // E)
    filesystems = [fs_in("vg0", "root", GiB, mountpoint="/", id=1),
                   fs_in("vg0", "data", GiB, mountpoint="/srv", id=2)]
    resized = resize_group(vg, filesystems, 2 * vg.extents)
    assert resized.decision(FREE).new_size == 4 * GiB
    assert resized.decision("root").new_size == 8 * GiB


def test_overrides_size_rest_and_fixed():
    vg, filesystems = debian()
    policy = VolumePolicy(overrides={"root": Override("size", 10 * GiB),
                                     "home": Override("rest"),
                                     "swap_1": Override("fixed")})
    resized = resize_group(vg, filesystems, (40 * GiB) // E, policy)
    assert resized.decision("root").new_size == 10 * GiB
    assert resized.decision("home").new_size == 29 * GiB
    assert resized.decision("home").rule == "rest"


def test_a_size_override_below_the_floor_is_refused():
    vg, filesystems = debian(root_used=5 * GiB)
    with pytest.raises(RestoreError, match="less than its floor"):
        resize_group(vg, filesystems, vg.extents,
                     VolumePolicy(overrides={"root": Override("size", 2 * GiB)}))


def test_an_override_for_a_volume_the_group_lacks_is_a_usage_error():
    vg, filesystems = debian()
    with pytest.raises(UsageError, match="no such logical volume"):
        resize_group(vg, filesystems, vg.extents, VolumePolicy(overrides={"var": Override("rest")}))


def test_mirrors_count_twice_and_thin_volumes_not_at_all_and_both_keep_their_size():
    vg = group([lv("root", 4 * GiB), lv("mirrored", GiB, "raid1"), lv("pool", 2 * GiB,
                                                                      "thin-pool"),
                lv("thin1", 10 * GiB, "thin")])
    assert vg.extents == (4 + 2 + 2) * GiB // E
    resized = resize_group(vg, [fs_in("vg0", "root", GiB, mountpoint="/")], vg.extents + 256)
    assert resized.decision("root").new_size == 5 * GiB
    for name in ("mirrored", "pool", "thin1"):
        assert resized.decision(name).rule == "fixed"
    assert "raid1 volume keeps its size" in resized.decision("mirrored").why


def test_the_plan_says_each_volume_old_and_new():
    vg, filesystems = debian()
    lines = describe_group(resize_group(vg, filesystems, 2 * vg.extents))
    assert lines[0].startswith("volume group vg0: 20.0 GiB -> 40.0 GiB")
    assert any("swap_1" in line and "fixed: swap: keeps its size" in line for line in lines)


# -- properties -----------------------------------------------------------------------------

@st.composite
def groups(draw):
    count = draw(st.integers(1, 6))
    lvs, filesystems = [], []
    for index in range(count):
        name = f"lv{index}"
        extents = draw(st.integers(1, 2000))
        kind = draw(st.sampled_from(["ext4", "ext4", "xfs", "swap", "raw", "none", "boot",
                                     "raid1", "thin"]))
        type = kind if kind in ("raid1", "thin") else "linear"
        lvs.append(lv(name, extents * E - draw(st.sampled_from([0, 0, 512, E - 512])), type))
        used = draw(st.integers(0, extents * E))
        if kind in ("ext4", "xfs"):
            filesystems.append(fs_in("vg0", name, used, kind, id=index + 1))
        elif kind == "boot":
            filesystems.append(fs_in("vg0", name, used, mountpoint="/boot", id=index + 1))
        elif kind == "swap":
            filesystems.append(fs_in("vg0", name, 0, "swap", id=index + 1))
        elif kind == "raw":
            fs = fs_in("vg0", name, used, "ntfs", id=index + 1)
            fs.archive = Archive("raw", [], used)
            filesystems.append(fs)
    vg = group(lvs, draw(st.sampled_from([0, 0, 10, 500])))
    overrides = {}
    for volume in lvs:
        if volume.type == "linear" and draw(st.integers(0, 5)) == 0:
            overrides[volume.name] = draw(st.sampled_from([Override("fixed"), Override("auto"),
                                                           Override("weight", 3),
                                                           Override("percent", 10)]))
    if draw(st.booleans()):
        linear = [v.name for v in lvs if v.type == "linear" and v.name not in overrides]
        if linear:
            overrides[draw(st.sampled_from(linear))] = Override("rest")
    return vg, filesystems, VolumePolicy(overrides=overrides)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups(), st.floats(0.2, 4.0))
def test_every_volume_gets_its_floor_the_sum_fits_and_fixed_volumes_keep_their_size(case, factor):
    vg, filesystems, policy = case
    target = max(1, int(vg.extents * factor))
    try:
        resized = resize_group(vg, filesystems, target, policy)
    except RestoreError as refused:
        # refused only when it truly does not fit: then the smallest group is larger
        assert "do not fit" in refused.message
        assert minimum_group_size(vg, filesystems, policy) > target * E
        return
    by_name = {v.name: v for v in vg.lvs}
    used = 0
    for d in resized.volumes:
        volume = by_name[d.name]
        assert d.new_size % E == 0 and d.new_size >= E
        used += d.new_size // E * copies(volume)
        if d.floor is not None:
            assert d.new_size >= d.floor, d
        if d.rule in ("fixed", "kept"):
            assert d.new_size == -(-volume.size // E) * E
        override = policy.overrides.get(d.name)
        if override is not None and override.mode == "fixed":
            assert d.rule == "fixed"
        if override is not None and override.mode == "percent":
            assert d.new_size == math.floor(target * override.value / 100) * E
    free = sum(d.new_size for d in resized.decisions if d.name == FREE) // E
    assert used + free <= target
    scalable = [d for d in resized.decisions if d.rule in ("scaled", "floored", "rest", "free")]
    if scalable:
        assert used + free == target  # nothing is lost when something can take it


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups())
def test_the_minimum_group_fits_and_one_extent_less_does_not(case):
    vg, filesystems, policy = case
    assume(not any(o.mode == "percent" for o in policy.overrides.values()))
    smallest = minimum_group_size(vg, filesystems, policy) // E
    resize_group(vg, filesystems, smallest, policy)
    if smallest > 1:
        with pytest.raises(RestoreError):
            resize_group(vg, filesystems, smallest - 1, policy)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups(), st.integers(1, 3))
def test_a_larger_group_never_shrinks_a_scalable_volume(case, times):
    vg, filesystems, policy = case
    assume(not any(o.mode == "percent" for o in policy.overrides.values()))
    try:
        small = resize_group(vg, filesystems, vg.extents, policy)
    except RestoreError:
        return
    large = resize_group(vg, filesystems, vg.extents * (times + 1), policy)
    for d in small.volumes:
        assert large.decision(d.name).new_size >= d.new_size - E  # rounding moves one extent
