"""Resizing a layout onto another target size: properties over random layouts, named cases."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from console.core.errors import RestoreError, UsageError
from console.core.layout import GPT_BIOS_BOOT, GPT_ESP, Archive, Disk, Filesystem, Partition
from console.core.planning.resize import (
    DEFAULT_FIXED_KINDS,
    GPT_MSFT_RESERVED,
    Override,
    Resized,
    ResizePolicy,
    describe_resize,
    minimum_target_size,
    parse_size,
    resize_disk,
)

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
S = 512
GPT_LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
GPT_SWAP = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
FS_MINIMUM = {"xfs": 300 * MiB, "btrfs": 128 * MiB}


def up(n: int, unit: int) -> int:
    return -(-n // unit) * unit


def down(n: int, unit: int) -> int:
    return n // unit * unit


# -- building layouts ----------------------------------------------------------------------

def part(number, start, size, kind="primary", **kw) -> Partition:
    return Partition(number=number, start=start, size=size, kind=kind,
                     partuuid=f"00000000-0000-4000-8000-{number:012d}", **kw)


def tar_fs(disk: str, number: int, used: int, mountpoint: str = "", fstype: str = "ext4",
           **kw) -> Filesystem:
    return Filesystem(id=number, disk=disk, partition=number, device=f"{disk}{number}",
                      type=fstype, mountpoint=mountpoint, bytes_used=used,
                      archive=Archive("tar", [], used), **kw)


def raw_fs(disk: str, number: int, size: int, fstype: str = "ntfs") -> Filesystem:
    return Filesystem(id=number, disk=disk, partition=number, device=f"{disk}{number}",
                      type=fstype, bytes_used=size, archive=Archive("raw", [], size))


def swap_fs(disk: str, number: int) -> Filesystem:
    return Filesystem(id=number, disk=disk, partition=number, device=f"{disk}{number}",
                      type="swap")


def gpt_disk(size: int, partitions: list[Partition], name="/dev/sda") -> Disk:
    return Disk(name=name, size=size, logical_sector_size=S, physical_sector_size=S, table="gpt",
                disk_id="6b1a0b55-0000-4000-8000-000000000001", partitions=partitions)


def msdos_disk(size: int, partitions: list[Partition], name="/dev/sda") -> Disk:
    return Disk(name=name, size=size, logical_sector_size=S, physical_sector_size=S,
                table="msdos", disk_id="0x1234abcd", partitions=partitions)


def gpt_usable(target: int, sector: int = S) -> tuple[int, int]:
    entries = 16384 // sector
    return (2 + entries) * sector, down(target, sector) - (1 + entries) * sector


def gpt_end(disk_size: int) -> int:
    """The last usable byte + 1 of a GPT disk with 512-byte sectors."""
    return disk_size - 33 * S


# -- random layouts ------------------------------------------------------------------------

@dataclass
class Generated:
    disk: Disk
    filesystems: list[Filesystem]
    tags: dict[int, str | None]  # partition number -> special kind the generator made


GPT_TAGS = [None, None, None, "esp", "bios_boot", "msftres", "boot", "swap"]
MSDOS_TAGS = [None, None, None, "esp", "boot", "swap"]


@st.composite
def partition_specs(draw, table: str):
    tag = draw(st.sampled_from(GPT_TAGS if table == "gpt" else MSDOS_TAGS))
    size = draw(st.integers(1, 3000)) * MiB + draw(st.sampled_from([0, 0, 0, S, 7 * S, 2047 * S]))
    if tag in ("esp", "boot"):
        content = "tar"
    elif tag == "swap":
        content = "swap"
    elif tag in ("bios_boot", "msftres"):
        content = draw(st.sampled_from(["none", "raw"]))
    else:
        content = draw(st.sampled_from(["tar"] * 6 + ["raw", "none"]))
    any_type = draw(st.sampled_from(["ext4", "ext4", "xfs", "btrfs"]))
    fstype = {"esp": "vfat", "boot": "ext4"}.get(tag or "", any_type)
    used = draw(st.integers(0, size))
    gap = draw(st.sampled_from([0, 0, 0, MiB, 3 * MiB, 5 * S]))
    return dict(tag=tag, size=size, content=content, fstype=fstype, used=used, gap=gap)


@st.composite
def layouts(draw) -> Generated:
    table = draw(st.sampled_from(["gpt", "msdos"]))
    name = "/dev/sdx"
    if table == "gpt":
        count = draw(st.integers(1, 6))
        numbers = draw(st.permutations(range(1, count + 1)))
        top = [("p", n) for n in numbers]
    else:
        has_extended = draw(st.booleans())
        primaries = draw(st.integers(0 if has_extended else 1, 3 if has_extended else 4))
        top = [("p", n) for n in range(1, primaries + 1)]
        if has_extended:
            logicals = draw(st.integers(1, 4))
            at = draw(st.integers(0, primaries))
            top.insert(at, ("e", logicals))
            top = [(kind, i + 1 if kind == "p" else value) for i, (kind, value) in enumerate(top)]
    partitions: list[Partition] = []
    filesystems: list[Filesystem] = []
    tags: dict[int, str | None] = {}
    pos = MiB if table == "gpt" else draw(st.sampled_from([63 * S, MiB, 2 * MiB]))
    mount_index = 0

    def add(number: int, kind: str, start: int) -> int:
        nonlocal mount_index
        spec = draw(partition_specs(table))
        tag, size = spec["tag"], spec["size"]
        extra = {}
        if table == "gpt":
            types = {"esp": GPT_ESP, "bios_boot": GPT_BIOS_BOOT, "msftres": GPT_MSFT_RESERVED,
                     "swap": GPT_SWAP}
            extra["type_uuid"] = types.get(tag or "", GPT_LINUX)
        else:
            extra["type_id"] = {"esp": 0xEF, "swap": 0x82}.get(tag or "", 0x83)
        partitions.append(part(number, start, size, kind, **extra))
        tags[number] = tag
        if spec["content"] == "tar":
            mount_index += 1
            mountpoint = {"esp": "/boot/efi", "boot": "/boot"}.get(tag or "",
                                                                   f"/srv/d{mount_index}")
            filesystems.append(tar_fs(name, number, spec["used"], mountpoint, spec["fstype"]))
        elif spec["content"] == "raw":
            filesystems.append(raw_fs(name, number, size))
        elif spec["content"] == "swap":
            filesystems.append(swap_fs(name, number))
        return start + size

    for kind, value in top:
        if kind == "p":
            pos = add(value, "primary", up(pos + draw(st.sampled_from([0, 0, MiB, 3 * S])), S))
        else:
            ext_number = next(n for n in range(1, 5) if n not in {v for k, v in top if k == "p"})
            ext_start = up(pos + draw(st.sampled_from([0, 0, MiB])), S)
            end = ext_start
            for i in range(value):
                end = add(5 + i, "logical", end + draw(st.sampled_from([S, MiB, 2 * MiB])))
            partitions.append(part(ext_number, ext_start, end - ext_start, "extended",
                                   type_id=0x05))
            pos = end
    tail = draw(st.sampled_from([0, MiB, 10 * MiB]))
    size = up(pos + tail + (33 * S if table == "gpt" else 0), S)
    maker = gpt_disk if table == "gpt" else msdos_disk
    disk = maker(size, sorted(partitions, key=lambda p: p.number), name=name)
    return Generated(disk, filesystems, tags)


@st.composite
def policies(draw, generated: Generated, overrides: bool = True) -> ResizePolicy:
    numbers = [p.number for p in generated.disk.partitions if p.kind != "extended"]
    chosen: dict[int, Override] = {}
    if overrides:
        rest_used = False
        for number in draw(st.lists(st.sampled_from(numbers), unique=True, max_size=2)):
            mode = draw(st.sampled_from(["auto", "fixed", "size", "percent", "weight", "rest"]))
            if mode == "rest" and rest_used:
                mode = "fixed"
            rest_used |= mode == "rest"
            value = {"size": draw(st.integers(1, 4000)) * MiB + draw(st.sampled_from([0, 12345])),
                     "percent": draw(st.integers(1, 40)),
                     "weight": draw(st.sampled_from([0.5, 1, 3, 100]))}.get(mode)
            chosen[number] = Override(mode, value)
    return ResizePolicy(mode=draw(st.sampled_from(["proportional", "grow-last"])),
                        floor_factor=draw(st.sampled_from([1.0, 1.1, 1.5])),
                        min_slack=draw(st.sampled_from([0, 64 * MiB])),
                        alignment=draw(st.sampled_from([MiB, MiB, 4 * MiB, 128 * KiB])),
                        overrides=chosen)


def targets(generated: Generated, policy: ResizePolicy | None = None):
    """Same size, larger, smaller, and (often) between the smallest that fits and the original."""
    size = generated.disk.size
    choices = [st.just(size), st.integers(size, size * 3).map(lambda n: down(n, S)),
               st.integers(size // 5, size).map(lambda n: down(n, S))]
    try:
        smallest = minimum_target_size(generated.disk, generated.filesystems, policy)
    except RestoreError:
        smallest = size
    if smallest < size:
        choices += [st.integers(smallest, size).map(lambda n: down(n, S))] * 3
    return st.one_of(choices)


# -- the rules, restated independently for the checks ------------------------------------------

def expected_floor(p: Partition, fs: Filesystem | None, policy: ResizePolicy) -> int:
    if fs is None or (fs.archive is not None and fs.archive.kind == "raw"):
        need = p.size
    elif fs.type == "swap":
        need = min(p.size, policy.min_slack)
    elif fs.archive is None:
        need = p.size
    else:
        need = math.ceil(Fraction(fs.bytes_used) * Fraction(policy.floor_factor)) + policy.min_slack
        need = min(p.size, max(need, FS_MINIMUM.get(fs.type, 0)))
    return max(policy.alignment, up(need, policy.alignment))


def expected_roles(g: Generated, policy: ResizePolicy) -> dict[int, str]:
    """number -> fixed | keep | share | rest | size | percent, for each non-container partition."""
    roles: dict[int, str] = {}
    for p in sorted(g.disk.partitions, key=lambda p: p.start):
        if p.kind == "extended":
            continue
        override = policy.overrides.get(p.number)
        if override is None:
            roles[p.number] = "fixed" if g.tags[p.number] in policy.fixed_kinds else "share"
        else:
            roles[p.number] = {"auto": "share", "weight": "share"}.get(override.mode, override.mode)
    has_rest = "rest" in roles.values()
    if policy.mode == "grow-last" or has_rest:
        shares = [n for n, r in roles.items() if r == "share"]
        for n in shares:
            roles[n] = "keep"
        if not has_rest and shares:
            roles[shares[-1]] = "rest"
    return roles


def policy_errors(g: Generated, policy: ResizePolicy) -> list[str]:
    """Message parts, one of which a policy that can never work must be refused with."""
    errors = []
    roles = expected_roles(g, policy)
    weights = [n for n, o in policy.overrides.items() if o.mode == "weight"]
    if weights and (policy.mode == "grow-last" or "rest" in roles.values()):
        errors.append("weight")
    fs_by_number = {fs.partition: fs for fs in g.filesystems}
    for n, o in policy.overrides.items():
        if o.mode == "size":
            p = g.disk.partition(n)
            if up(o.value, policy.alignment) < expected_floor(p, fs_by_number.get(n), policy):
                errors.append(f"Partition {n} of {g.disk.name}")
    return errors


def minimal_packing_fits(g: Generated, policy: ResizePolicy, target: int) -> bool:
    """Does a forward packing of every partition at its smallest allowed size fit the target?"""
    a = policy.alignment
    roles = expected_roles(g, policy)
    fs_by_number = {fs.partition: fs for fs in g.filesystems}
    if g.disk.table == "gpt":
        start, end = gpt_usable(target)
        first_min = start
    else:
        start, end = S, min(down(target, S), (2**32 - 1) * S)
        first_min = max(S, min(p.start for p in g.disk.partitions))
    if end - start < a:
        return False
    pos, first = start, True
    for p in sorted(g.disk.partitions, key=lambda p: p.start):
        at = up(pos, a) + (a if p.kind == "logical" else 0)
        if first:
            at, first = max(at, up(first_min, a)), False
        if p.kind == "extended" and any(q.kind == "logical" for q in g.disk.partitions):
            pos = at
            continue
        floor = expected_floor(p, fs_by_number.get(p.number), policy)
        role = roles[p.number]
        if role in ("fixed", "keep"):
            size = p.size
        elif role == "size":
            size = up(policy.overrides[p.number].value, a)
        elif role == "percent":
            percent = Fraction(policy.overrides[p.number].value)
            size = down(math.floor((end - start) * percent / 100), a)
            if size < floor:
                return False
        else:
            size = floor
        pos = at + size
    return pos <= end


def check_layout(g: Generated, policy: ResizePolicy, target: int, resized: Resized) -> None:
    a = policy.alignment
    source = {p.number: p for p in g.disk.partitions}
    new = {p.number: p for p in resized.disk.partitions}
    fs_by_number = {fs.partition: fs for fs in g.filesystems}
    roles = expected_roles(g, policy)
    assert resized.disk.size == target
    assert set(new) == set(source)
    for number, p in new.items():
        old = source[number]
        assert (p.kind, p.flags, p.name, p.type_uuid, p.type_id, p.partuuid) == \
            (old.kind, old.flags, old.name, old.type_uuid, old.type_id, old.partuuid)
        assert p.size > 0 and p.start % a == 0 and p.start % S == 0 and p.size % S == 0
        assert resized.usable_start <= p.start and p.start + p.size <= resized.usable_end
        if p.kind == "extended" and number not in roles:
            continue
        role = roles[number]
        if role in ("fixed", "keep"):
            assert p.size == old.size, f"partition {number} ({role}) changed size"
        else:
            assert p.size >= expected_floor(old, fs_by_number.get(number), policy), number
            end = p.start + p.size
            assert end % a == 0 or end == resized.usable_end, f"partition {number} ends unaligned"
        if role == "size":
            assert p.size == up(policy.overrides[number].value, a)
        if role == "percent":
            usable = resized.usable_end - resized.usable_start
            percent = Fraction(policy.overrides[number].value)
            assert p.size == down(math.floor(usable * percent / 100), a)
    # no overlap, order kept
    flat = sorted((p for p in new.values() if p.kind != "extended" or number_is_empty_ext(g, p)),
                  key=lambda p: p.start)
    for left, right in zip(flat, flat[1:]):
        assert left.start + left.size <= right.start, (left.number, right.number)
    assert [p.number for p in sorted(new.values(), key=lambda p: p.start)] == \
        [p.number for p in sorted(source.values(), key=lambda p: p.start)]
    # msdos: the extended holds its logicals, each after a gap for its boot record; the boot area
    # before the first partition is at least as large as it was
    logicals = sorted((p for p in new.values() if p.kind == "logical"), key=lambda p: p.start)
    if logicals:
        ext = next(p for p in new.values() if p.kind == "extended")
        assert ext.start + ext.size == logicals[-1].start + logicals[-1].size
        previous_end = ext.start
        for p in logicals:
            assert p.start - previous_end >= a, f"no room for the EBR of logical {p.number}"
            previous_end = p.start + p.size
        for p in new.values():
            if p.kind == "primary":
                assert p.start + p.size <= ext.start or p.start >= ext.start + ext.size
    if g.disk.table == "msdos":
        assert min(p.start for p in new.values()) >= min(p.start for p in source.values())


def number_is_empty_ext(g: Generated, p: Partition) -> bool:
    return p.kind == "extended" and not any(q.kind == "logical" for q in g.disk.partitions)


# -- properties ----------------------------------------------------------------------------

@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_layout_is_placed_legally_or_refused_for_a_real_reason(data):
    g = data.draw(layouts())
    policy = data.draw(policies(g))
    target = data.draw(targets(g, policy))
    before = copy.deepcopy((g.disk, g.filesystems, policy))
    event(f"{g.disk.table}, {policy.mode}, "
          f"{'logicals' if any(p.kind == 'logical' for p in g.disk.partitions) else 'no logicals'}")
    try:
        resized = resize_disk(g.disk, g.filesystems, target, policy)
        event("placed, smaller target" if target < g.disk.size else "placed")
    except RestoreError as exc:
        event("refused")
        reasons = policy_errors(g, policy)
        if reasons:
            assert any(reason in str(exc) for reason in reasons), (reasons, str(exc))
        else:
            # refused only when even the smallest sizes (fixed sizes + floors + alignment gaps)
            # do not fit
            assert not minimal_packing_fits(g, policy, target), str(exc)
            assert "bytes" in str(exc)
            assert "partition " in str(exc) or "leaves no usable room" in str(exc)
        return
    assert not policy_errors(g, policy)
    assert minimal_packing_fits(g, policy, target)
    check_layout(g, policy, target, resized)
    assert (g.disk, g.filesystems, policy) == before, "the inputs were changed"
    again = resize_disk(copy.deepcopy(g.disk), copy.deepcopy(g.filesystems), target, policy)
    assert again.to_json() == resized.to_json()
    assert Resized.from_json(resized.to_json()) == resized
    assert len(describe_resize(resized)) >= len(g.disk.partitions) + 1


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_without_floors_each_share_is_within_one_alignment_unit_of_exact(data):
    g = data.draw(layouts())
    policy = data.draw(policies(g, overrides=False))
    policy.mode, policy.floor_factor, policy.min_slack = "proportional", 0.0, 0
    # only filesystems saved file by file, so nothing has a floor but the one-unit minimum
    numbers = [p.number for p in g.disk.partitions if p.kind != "extended"]
    g.filesystems = [tar_fs(g.disk.name, n, 0, "/", "ext4") if g.tags[n] != "swap"
                     else swap_fs(g.disk.name, n) for n in numbers]
    target = data.draw(targets(g, policy))
    try:
        resized = resize_disk(g.disk, g.filesystems, target, policy)
    except RestoreError:
        assert not minimal_packing_fits(g, policy, target)
        return
    event("smaller target" if target < g.disk.size else "same or larger target")
    scaled = [d for d in resized.decisions if d.rule in ("scaled", "floored")]
    assume(scaled and not any(d.rule == "floored" for d in scaled))
    total_old = sum(d.old_size for d in scaled)
    total_new = sum(d.new_size for d in scaled)
    for d in scaled:
        exact = Fraction(d.old_size * total_new, total_old)
        assert abs(d.new_size - exact) < policy.alignment, (d.number, d.new_size, float(exact))
    # the space for scalable partitions is all of what the fixed ones leave
    assert resized.unused < policy.alignment


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_minimum_target_size_is_the_smallest_that_fits(data):
    g = data.draw(layouts())
    policy = data.draw(policies(g))
    assume(not any(o.mode == "percent" for o in policy.overrides.values()))
    assume(not policy_errors(g, policy))
    smallest = minimum_target_size(g.disk, g.filesystems, policy)
    assert smallest % S == 0
    check_layout(g, policy, smallest, resize_disk(g.disk, g.filesystems, smallest, policy))
    with pytest.raises(RestoreError):
        resize_disk(g.disk, g.filesystems, smallest - S, policy)
    assert not minimal_packing_fits(g, policy, smallest - S)


# -- named cases ---------------------------------------------------------------------------

def esp_root_swap(size: int, name="/dev/sda") -> tuple[Disk, list[Filesystem]]:
    """ESP 512 MiB, root, swap 2 GiB at the end, as an installer makes them."""
    end = gpt_end(size)
    swap_start = down(end - 2 * GiB, MiB)
    disk = gpt_disk(size, [
        part(1, MiB, 512 * MiB, type_uuid=GPT_ESP, flags=["boot", "esp"], name="EFI"),
        part(2, 513 * MiB, swap_start - 513 * MiB, type_uuid=GPT_LINUX, name="root"),
        part(3, swap_start, end - swap_start, type_uuid=GPT_SWAP, name="swap"),
    ], name=name)
    filesystems = [tar_fs(name, 1, 6 * MiB, "/boot/efi", "vfat"), tar_fs(name, 2, 3 * GiB, "/"),
                   swap_fs(name, 3)]
    return disk, filesystems


def test_20_gb_disk_with_4_gb_used_fits_on_15_gb():
    gb = 1000**3
    disk = gpt_disk(20 * gb, [
        part(1, MiB, 512 * MiB, type_uuid=GPT_ESP, flags=["boot", "esp"]),
        part(2, 513 * MiB, gpt_end(20 * gb) - 513 * MiB, type_uuid=GPT_LINUX),
    ])
    filesystems = [tar_fs("/dev/sda", 1, 5 * MiB, "/boot/efi", "vfat"),
                   tar_fs("/dev/sda", 2, 4 * gb, "/")]
    resized = resize_disk(disk, filesystems, 15 * gb)
    esp, root = resized.disk.partitions
    assert (esp.start, esp.size) == (MiB, 512 * MiB)
    assert root.start == 513 * MiB
    assert root.start + root.size == gpt_usable(15 * gb)[1]  # the last partition takes it all
    assert root.size >= 4 * gb * 1.1 + 64 * MiB
    assert resized.decision(2).rule == "scaled"
    assert minimum_target_size(disk, filesystems) < 15 * gb


def test_20_gb_msdos_disk_with_swap_logical_fits_on_15_gb():
    gb = 1000**3
    size = 20 * gb
    root_end = down(size - 2 * GiB, MiB)
    disk = msdos_disk(size, [
        part(1, MiB, root_end - MiB, type_id=0x83, flags=["boot"]),
        part(2, root_end + MiB, size - root_end - MiB, "extended", type_id=0x05),
        part(5, root_end + 2 * MiB, size - root_end - 2 * MiB, "logical", type_id=0x82),
    ])
    filesystems = [tar_fs("/dev/sda", 1, 4 * gb, "/"), swap_fs("/dev/sda", 5)]
    resized = resize_disk(disk, filesystems, 15 * gb)
    root, ext, swap = (resized.disk.partition(n) for n in (1, 2, 5))
    assert swap.size == disk.partition(5).size
    assert swap.start + swap.size <= 15 * gb and swap.start == ext.start + MiB
    assert root.start == MiB and root.start + root.size == ext.start
    assert root.flags == ["boot"]


def test_grown_disk_keeps_bios_boot_partition_at_the_end():
    size = 8 * GiB
    end = gpt_end(size)
    disk = gpt_disk(size, [
        part(1, MiB, end - 2 * MiB, type_uuid=GPT_LINUX),
        part(2, end - MiB, MiB, type_uuid=GPT_BIOS_BOOT, flags=["bios_grub"]),
    ])
    filesystems = [tar_fs("/dev/sda", 1, GiB, "/")]
    resized = resize_disk(disk, filesystems, 32 * GiB)
    root, bios = resized.disk.partitions
    usable_end = gpt_usable(32 * GiB)[1]
    assert bios.size == MiB and resized.decision(2).rule == "fixed"
    assert bios.start > root.start
    assert usable_end - (bios.start + bios.size) < MiB, "the BIOS boot partition left the end"
    assert root.start + root.size == bios.start


def test_swap_esp_root_onto_twice_the_size():
    disk, filesystems = esp_root_swap(16 * GiB)
    resized = resize_disk(disk, filesystems, 32 * GiB)
    esp, root, swap = resized.disk.partitions
    old_esp, old_root, old_swap = disk.partitions
    assert esp.size == old_esp.size and swap.size == old_swap.size
    # root takes everything the fixed partitions leave
    usable_start, usable_end = gpt_usable(32 * GiB)
    assert root.size == swap.start - root.start
    assert root.size > 2 * old_root.size
    assert usable_end - (swap.start + swap.size) < MiB
    assert [d.rule for d in resized.decisions] == ["fixed", "scaled", "fixed"]


def test_proportional_shares_follow_original_sizes():
    size = 10 * GiB
    disk = gpt_disk(size, [
        part(1, MiB, 512 * MiB, type_uuid=GPT_ESP),
        part(2, 513 * MiB, 3 * GiB, type_uuid=GPT_LINUX),
        part(3, 513 * MiB + 3 * GiB, 6 * GiB, type_uuid=GPT_LINUX),
    ])
    filesystems = [tar_fs("/dev/sda", 2, GiB, "/"), tar_fs("/dev/sda", 3, GiB, "/home")]
    resized = resize_disk(disk, filesystems, 40 * GiB)
    root, home = resized.disk.partition(2), resized.disk.partition(3)
    assert abs(home.size - 2 * root.size) <= 2 * MiB
    assert home.start == root.start + root.size


def test_floor_is_taken_from_the_others():
    disk = gpt_disk(20 * GiB, [
        part(1, MiB, 10 * GiB, type_uuid=GPT_LINUX),
        part(2, MiB + 10 * GiB, 10 * GiB - 2 * MiB, type_uuid=GPT_LINUX),
    ])
    filesystems = [tar_fs("/dev/sda", 1, 7 * GiB, "/"), tar_fs("/dev/sda", 2, 100 * MiB, "/srv")]
    resized = resize_disk(disk, filesystems, 12 * GiB)
    full, empty = resized.decision(1), resized.decision(2)
    floor = up(math.ceil(7 * GiB * Fraction(1.1)) + 64 * MiB, MiB)
    assert full.rule == "floored" and full.new_size == floor == full.floor
    assert empty.rule == "scaled"
    assert empty.new_start + empty.new_size == gpt_usable(12 * GiB)[1]


def test_raw_image_and_unknown_partition_cannot_shrink():
    disk = gpt_disk(20 * GiB, [
        part(1, MiB, 4 * GiB, type_uuid=GPT_LINUX),
        part(2, MiB + 4 * GiB, 4 * GiB, type_uuid=GPT_LINUX),
        part(3, MiB + 8 * GiB, 12 * GiB - 2 * MiB, type_uuid=GPT_LINUX),
    ])
    filesystems = [raw_fs("/dev/sda", 1, 4 * GiB), tar_fs("/dev/sda", 3, GiB, "/")]
    resized = resize_disk(disk, filesystems, 12 * GiB)
    assert resized.disk.partition(1).size == 4 * GiB == resized.decision(1).floor
    assert resized.disk.partition(2).size == 4 * GiB
    assert {resized.decision(1).rule, resized.decision(2).rule} == {"floored"}
    assert "raw image" in resized.decision(1).why
    with pytest.raises(RestoreError, match="partition [12] "):
        resize_disk(disk, filesystems, 8 * GiB)


def test_grow_last_keeps_sizes_and_starts():
    size = 10 * GiB
    disk = gpt_disk(size, [
        part(1, MiB, 512 * MiB, type_uuid=GPT_ESP),
        part(2, 600 * MiB, 3 * GiB, type_uuid=GPT_LINUX),  # after a gap
        part(3, 600 * MiB + 3 * GiB, gpt_end(size) - 600 * MiB - 3 * GiB, type_uuid=GPT_LINUX),
    ])
    filesystems = [tar_fs("/dev/sda", 2, GiB, "/"), tar_fs("/dev/sda", 3, GiB, "/home")]
    policy = ResizePolicy(mode="grow-last")
    bigger = resize_disk(disk, filesystems, 30 * GiB, policy)
    for old, new in zip(disk.partitions[:2], bigger.disk.partitions[:2]):
        assert (new.start, new.size) == (old.start, old.size)
    home = bigger.disk.partition(3)
    assert home.start == disk.partition(3).start
    assert home.start + home.size == gpt_usable(30 * GiB)[1]
    assert [d.rule for d in bigger.decisions] == ["fixed", "kept", "rest"]
    # smaller: the last one shrinks down to its floor, the others stay put
    smaller = resize_disk(disk, filesystems, 6 * GiB, policy)
    assert smaller.disk.partition(2).start == 600 * MiB
    assert smaller.disk.partition(3).size < disk.partition(3).size
    # so small that the gap must go: packed instead
    packed = resize_disk(disk, filesystems, 3 * GiB + 512 * MiB + GiB + 200 * MiB, policy)
    assert packed.disk.partition(2).start == 513 * MiB
    with pytest.raises(RestoreError, match="partition 3 "):
        resize_disk(disk, filesystems, 4 * GiB, policy)


def test_grow_last_grows_the_last_scalable_not_the_swap_after_it():
    size = 10 * GiB
    disk = msdos_disk(size, [
        part(1, MiB, 8 * GiB, type_id=0x83),
        part(2, 8 * GiB + MiB, 2 * GiB - MiB, "extended", type_id=0x05),
        part(5, 8 * GiB + 2 * MiB, 2 * GiB - 2 * MiB, "logical", type_id=0x82),
    ])
    filesystems = [tar_fs("/dev/sda", 1, GiB, "/"), swap_fs("/dev/sda", 5)]
    resized = resize_disk(disk, filesystems, 20 * GiB, ResizePolicy(mode="grow-last"))
    root, ext, swap = (resized.disk.partition(n) for n in (1, 2, 5))
    assert root.start == MiB and root.size == 18 * GiB
    assert swap.size == disk.partition(5).size and swap.start + swap.size == 20 * GiB
    assert ext.start == swap.start - MiB == root.start + root.size


def overridden(overrides: dict[int, Override], target=20 * GiB, mode="proportional"):
    disk, filesystems = esp_root_swap(10 * GiB)
    home_start = disk.partition(2).start + 5 * GiB
    # split root into root and /home to have two scalable partitions
    disk.partitions[1].size = 5 * GiB
    disk.partitions.insert(2, part(4, home_start, disk.partition(3).start - home_start,
                                   type_uuid=GPT_LINUX))
    filesystems.append(tar_fs(disk.name, 4, GiB, "/home"))
    policy = ResizePolicy(mode=mode, overrides=overrides)
    return disk, resize_disk(disk, filesystems, target, policy)


def test_override_fixed_locks_a_scalable_partition():
    disk, resized = overridden({2: Override("fixed")})
    assert resized.disk.partition(2).size == 5 * GiB
    assert resized.decision(2).rule == "fixed"
    assert resized.decision(4).rule == "scaled"


def test_override_auto_makes_a_fixed_kind_scalable():
    disk, resized = overridden({1: Override("auto"), 3: Override("weight", 1)})
    assert resized.decision(1).rule == "scaled" and resized.disk.partition(1).size > 512 * MiB
    assert resized.decision(3).rule == "scaled"


def test_override_size_and_percent():
    disk, resized = overridden({2: Override("size", 7 * GiB + 5), 4: Override("percent", 25)})
    assert resized.disk.partition(2).size == 7 * GiB + MiB  # rounded up to the alignment
    usable = resized.usable_end - resized.usable_start
    assert resized.disk.partition(4).size == down(usable // 4, MiB)
    assert {resized.decision(2).rule, resized.decision(4).rule} == {"overridden"}


def test_override_weight():
    disk, resized = overridden({2: Override("weight", 1), 4: Override("weight", 3)})
    root, home = resized.disk.partition(2), resized.disk.partition(4)
    ratio = Fraction(3 * disk.partition(4).size, disk.partition(2).size)
    assert abs(ratio * root.size - home.size) <= ratio * MiB + MiB
    assert "weight 3 × its size" in resized.decision(4).why


def test_override_rest_keeps_the_others():
    disk, resized = overridden({2: Override("rest")})
    assert resized.disk.partition(4).size == disk.partition(4).size
    assert resized.decision(4).rule == "kept" and resized.decision(2).rule == "rest"
    assert resized.disk.partition(2).size > 10 * GiB


def test_override_rest_in_grow_last_mode_chooses_the_grower():
    disk, resized = overridden({2: Override("rest")}, mode="grow-last")
    assert resized.disk.partition(4).size == disk.partition(4).size
    assert resized.disk.partition(2).start == disk.partition(2).start


def test_bad_overrides_are_refused_in_words():
    with pytest.raises(RestoreError, match="only one can"):
        overridden({2: Override("rest"), 4: Override("rest")})
    with pytest.raises(RestoreError, match="weight"):
        overridden({2: Override("rest"), 4: Override("weight", 2)})
    with pytest.raises(RestoreError, match="no such partition"):
        overridden({9: Override("fixed")})
    with pytest.raises(RestoreError, match="less than its floor"):
        overridden({2: Override("size", 100 * MiB)})
    with pytest.raises(RestoreError, match="partition 4 .*25% of the usable area"):
        overridden({4: Override("percent", 25)}, target=4 * GiB)
    with pytest.raises(RestoreError):
        Override("percent", 120)
    with pytest.raises(RestoreError):
        Override("grow")


def test_too_small_target_names_the_partition_and_the_numbers():
    disk, filesystems = esp_root_swap(16 * GiB)
    with pytest.raises(RestoreError) as caught:
        resize_disk(disk, filesystems, 5 * GiB)
    message = str(caught.value)
    floor = up(math.ceil(3 * GiB * Fraction(1.1)) + 64 * MiB, MiB)
    assert "partition 2 (ext4 /, 3.0 GiB used)" in message
    assert f"({floor:,} bytes; floor: 3.0 GiB used × 1.1 + 64.0 MiB slack)" in message
    assert f"on a target of 5.0 GiB ({5 * GiB:,} bytes)" in message
    smallest = minimum_target_size(disk, filesystems)
    assert f"at least {humanize_size(smallest)} ({smallest:,} bytes)" in message
    # what remains for it: the target's usable area less ESP, swap and alignment
    remain = down(gpt_usable(5 * GiB)[1] - 2 * GiB, MiB) - 513 * MiB
    assert f"only {humanize_size(remain)} ({remain:,} bytes) remain" in message


def humanize_size(n: int) -> str:
    import humanize
    return humanize.naturalsize(n, binary=True)


def test_ext_inode_tables_and_xfs_minimum_raise_the_floor():
    disk = gpt_disk(100 * GiB, [
        part(1, MiB, 50 * GiB, type_uuid=GPT_LINUX),
        part(2, MiB + 50 * GiB, 50 * GiB - 2 * MiB, type_uuid=GPT_LINUX),
    ])
    ext_options = {"inode_count": 3_276_800, "inode_size": 256}
    filesystems = [tar_fs("/dev/sda", 1, GiB, "/", mkfs=ext_options),
                   tar_fs("/dev/sda", 2, 0, "/srv", "xfs")]
    smallest = minimum_target_size(disk, filesystems)
    resized = resize_disk(disk, filesystems, smallest)
    root, srv = resized.decision(1), resized.decision(2)
    assert root.floor == up(math.ceil(GiB * Fraction(1.1)) + 64 * MiB + 800 * MiB, MiB)
    assert "inode tables" in root.floor_why
    assert srv.floor == 300 * MiB and srv.floor_why == "the smallest xfs mkfs makes"
    assert (root.new_size, srv.new_size) == (root.floor, srv.floor)


def test_msdos_keeps_the_boot_area_and_logical_gaps():
    size = 4 * GiB
    disk = msdos_disk(size, [
        part(1, 63 * S, GiB, type_id=0x83),  # an old DOS-compatible start
        part(2, 63 * S + GiB, 3 * GiB - 63 * S, "extended", type_id=0x05),
        part(5, 126 * S + GiB, GiB, "logical", type_id=0x83),
        part(6, 189 * S + 2 * GiB, size - 189 * S - 2 * GiB, "logical", type_id=0x83),
    ])
    filesystems = [tar_fs("/dev/sda", n, 100 * MiB, f"/d{n}") for n in (1, 5, 6)]
    resized = resize_disk(disk, filesystems, 8 * GiB)
    p1, ext, l5, l6 = (resized.disk.partition(n) for n in (1, 2, 5, 6))
    assert p1.start == MiB
    assert ext.start == p1.start + p1.size
    assert l5.start == ext.start + MiB and l6.start == l5.start + l5.size + MiB
    assert ext.start + ext.size == l6.start + l6.size == 8 * GiB
    # a boot area larger than 1 MiB is kept whole
    disk.partition(1).start = 4 * MiB
    assert resize_disk(disk, filesystems, 8 * GiB).disk.partition(1).start == 4 * MiB


def test_msdos_stops_at_the_32_bit_limit():
    disk = msdos_disk(4 * GiB, [part(1, MiB, 4 * GiB - MiB, type_id=0x83)])
    resized = resize_disk(disk, [tar_fs("/dev/sda", 1, GiB, "/")], 3 * 1024 * GiB)
    root = resized.disk.partition(1)
    assert root.start + root.size == (2**32 - 1) * S
    assert resized.usable_end == (2**32 - 1) * S


def test_4k_sector_target():
    disk, filesystems = esp_root_swap(16 * GiB)
    resized = resize_disk(disk, filesystems, 32 * GiB, target_sector_size=4096)
    assert resized.disk.logical_sector_size == 4096
    assert (resized.usable_start, resized.usable_end) == gpt_usable(32 * GiB, 4096)
    for p in resized.disk.partitions:
        assert p.start % 4096 == 0 and p.size % 4096 == 0
    with pytest.raises(ValueError):
        resize_disk(disk, filesystems, 32 * GiB, ResizePolicy(alignment=6 * KiB), 4096)


def test_filesystems_of_other_disks_are_ignored():
    disk, filesystems = esp_root_swap(16 * GiB)
    stranger = [tar_fs("/dev/sdb", 2, 15 * GiB, "/")]
    assert resize_disk(disk, filesystems + stranger, 8 * GiB).to_json() == \
        resize_disk(disk, filesystems, 8 * GiB).to_json()


def test_describe_resize_says_old_new_and_why():
    disk, filesystems = esp_root_swap(16 * GiB)
    lines = describe_resize(resize_disk(disk, filesystems, 32 * GiB))
    assert lines[0] == "/dev/sda: 16.0 GiB -> 32.0 GiB (gpt, proportional, aligned to 1.0 MiB)"
    assert len(lines) == 4
    esp, root, swap = lines[1:]
    assert "512.0 MiB ->  512.0 MiB" in esp and "fixed: EFI system partition: keeps its size" in esp
    assert "ext4 /" in root and "-> " in root and "scaled: 100.0% of the space" in root
    assert "swap" in swap and "2.0 GiB ->    2.0 GiB" in swap


def test_policy_and_overrides_round_trip_and_parse():
    policy = ResizePolicy(mode="grow-last", floor_factor=1.2, min_slack=MiB, alignment=4 * MiB,
                          fixed_kinds=frozenset({"esp"}),
                          overrides={2: Override("rest"), 3: Override("percent", 12.5)})
    assert ResizePolicy.from_json(policy.to_json()) == policy
    assert ResizePolicy.from_json({}) == ResizePolicy()
    assert ResizePolicy().fixed_kinds == DEFAULT_FIXED_KINDS
    assert Override.parse("20G") == Override("size", 20 * GiB)
    assert Override.parse("rest") == Override("rest")
    assert Override.parse("auto") == Override("auto")
    assert Override.parse("30%") == Override("percent", 30.0)
    assert Override.parse("weight:2.5") == Override("weight", 2.5)
    assert Override.parse("fixed") == Override("fixed")
    assert parse_size("512MiB") == 512 * MiB and parse_size("10GB") == 10 * 1000**3
    assert parse_size("1.5T") == 3 * 512 * GiB and parse_size("4096") == 4096
    for bad in ("big", "0%", "weight:0", "-5G"):
        with pytest.raises(UsageError):
            Override.parse(bad)


def test_fixed_kinds_can_be_changed():
    disk, filesystems = esp_root_swap(16 * GiB)
    resized = resize_disk(disk, filesystems, 32 * GiB,
                          ResizePolicy(fixed_kinds=DEFAULT_FIXED_KINDS - {"swap"}))
    assert resized.decision(3).rule == "scaled"
    assert resized.disk.partition(3).size > disk.partition(3).size


def test_empty_extended_partition_is_kept_as_it_is():
    disk = msdos_disk(4 * GiB, [
        part(1, MiB, 3 * GiB, type_id=0x83),
        part(2, MiB + 3 * GiB, GiB - MiB, "extended", type_id=0x05),
    ])
    resized = resize_disk(disk, [tar_fs("/dev/sda", 1, GiB, "/")], 8 * GiB)
    root, ext = resized.disk.partition(1), resized.disk.partition(2)
    assert ext.size == GiB - MiB and resized.decision(2).rule == "fixed"
    assert ext.start + ext.size == 8 * GiB and root.start + root.size == ext.start
    with pytest.raises(RestoreError, match="extended partition"):
        resize_disk(disk, [], 8 * GiB, ResizePolicy(overrides={2: Override("fixed")}))


def test_layouts_without_scalable_partitions_are_packed_from_the_start():
    disk = gpt_disk(4 * GiB, [
        part(1, MiB, 512 * MiB, type_uuid=GPT_ESP),
        part(2, 2 * GiB, GiB, type_uuid=GPT_SWAP),
    ])
    resized = resize_disk(disk, [swap_fs("/dev/sda", 2)], 2 * GiB)
    assert [(p.start, p.size) for p in resized.disk.partitions] == \
        [(MiB, 512 * MiB), (513 * MiB, GiB)]
    assert describe_resize(resized)[-1].strip().endswith("left free at the end")
    with pytest.raises(RestoreError, match="partition 2 .*beyond the end of the usable area"):
        resize_disk(disk, [swap_fs("/dev/sda", 2)], GiB)
