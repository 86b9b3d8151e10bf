"""The stack's part of a plan: how far a partition under a volume group may shrink, the
group's LVs on the resized partitions, and the steps that make the group again.

A volume group is restored when every one of its PVs lies on a partition of a mapped disk, or
in a LUKS container on one (md arrays under PVs are not planned here yet: such a group is left
out, said in words). Its size on the target is the sum of its PVs' new devices (the
partition, less a container's header), less each one's metadata area (pe_start), in whole
extents; lvresize.py shares it among the LVs. A LUKS container is made again on its
partition, whatever its size, with the same UUID, version, cipher and key size.

The group is written from its saved vgcfgbackup text when nothing changed (every LV at its
size, every PV at least as large as it was): the group is then what it was, extent for
extent, whatever its LV types. Otherwise its metadata is written anew (volumes/lvm.py
group_metadata), each LV linear at its new size, with every UUID, name and tag kept; a group
with mirror, raid, thin or striped LVs whose sizes must change is refused in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import RestoreError
from ..layout import (
    Disk,
    Filesystem,
    LuksContainer,
    MdArray,
    Stack,
    VolumeGroup,
    partition_of,
)
from ..units import size
from .lvresize import (
    SCALABLE_TYPES,
    GroupResized,
    VolumePolicy,
    minimum_group_size,
    resize_group,
)
from .resize import MiB, data_floor


MD_MARGIN = 1024 * 1024


@dataclass
class PlannedGroup:
    group: VolumeGroup
    resized: GroupResized
    # PV UUID -> (source disk, partition number)
    partitions: dict[str, tuple[str, int]]
    from_saved: bool  # vgcfgrestore of the saved text; else metadata written anew
    # PV UUID -> the LUKS container it lies in ("" when on the partition itself)
    containers: dict[str, str] = field(default_factory=dict)


def _container_of(place: str, stack: Stack) -> LuksContainer | None:
    if not place.startswith("luks:"):
        return None
    try:
        return stack.container(place[5:])
    except KeyError:
        return None


def pv_partitions(group: VolumeGroup, stack: Stack | None = None
                  ) -> dict[str, tuple[str, int]] | None:
    """PV UUID -> (disk, partition) when every PV lies on a partition or in a LUKS container
    on one; None otherwise."""
    found = {}
    for pv in group.pvs:
        container = _container_of(pv.on, stack) if stack is not None else None
        place = container.on if container is not None else pv.on
        array = _array_of(place, stack) if stack is not None else None
        if array is not None:  # an array: its first member stands for it
            place = array.members[0].on if array.members else ""
        where = partition_of(place) if place.startswith("part:") else None
        if where is None:
            return None
        found[pv.uuid] = where
    return found


def _array_of(place: str, stack: Stack) -> MdArray | None:
    if not place.startswith("md:"):
        return None
    try:
        return stack.array(place[3:])
    except KeyError:
        return None


def member_partitions(array: MdArray) -> list[tuple[str, int]]:
    return [where for m in array.members
            if m.on.startswith("part:") and (where := partition_of(m.on)) is not None]


def array_overhead(array: MdArray, source_disks: dict[str, Disk]) -> int:
    """What the md superblock and its data offset take of a member: its partition's size on
    the source less the array's size (the smallest member's, for members of unequal size),
    and a margin."""
    sizes = [source_disks[d].partition(n).size for d, n in member_partitions(array)
             if d in source_disks]
    # mdadm may take a larger data offset on a larger member and rounds the array down to
    # 64 KiB: a MiB of room for that
    return max(0, min(sizes) - array.size) + MD_MARGIN if sizes else 0


@dataclass
class PlannedArray:
    array: MdArray
    members: list[tuple[str, int] | None]  # each slot: (source disk, partition) or missing
    size: int  # bytes of the array on its new members


def plan_arrays(stack: Stack, layouts: dict[str, Disk], source_disks: dict[str, Disk]
                ) -> tuple[list[PlannedArray], list[str]]:
    """The RAID1 arrays with at least one member on a mapped disk: made again with the
    members there, the others missing (a degraded mirror); in words, those left out."""
    planned, left_out = [], []
    for array in stack.arrays:
        mapped = [where for where in member_partitions(array) if where[0] in layouts]
        if not mapped:
            left_out.append(f"md array {array.device}: none of its members is on a restored "
                            "disk")
            continue
        if array.level != "raid1":
            left_out.append(f"md array {array.device}: {array.level} is not restored yet "
                            "(RAID1 is)")
            continue
        slots: list[tuple[str, int] | None] = list(mapped)
        slots += [None] * max(0, array.raid_devices - len(slots))
        overhead = array_overhead(array, source_disks)
        size = min(layouts[d].partition(n).size for d, n in mapped) - overhead
        planned.append(PlannedArray(array, slots, size))
    return planned, left_out


def header_bytes(place: str, stack: Stack | None) -> int:
    """What a LUKS container takes of its partition before the data (0 for a partition)."""
    container = _container_of(place, stack) if stack is not None else None
    return container.payload_offset if container is not None else 0


def stacked_floors(groups: list[VolumeGroup], filesystems: list[Filesystem], disk: str,
                   policies: dict[str, VolumePolicy], stack: Stack | None = None,
                   source_disks: dict[str, Disk] | None = None) -> dict[int, tuple[int, str]]:
    """partition number -> (floor, why) of the PVs and LUKS containers on `disk`: a group's
    only PV holds its metadata area and the smallest group its LVs fit in (and, in a
    container, its header); a PV of a group spread over several keeps its original size (how
    the others grow is not known while one disk is laid out); a container holding a
    filesystem, its header and the filesystem's floor."""
    floors = {}
    for group in groups:
        places = pv_partitions(group, stack)
        if places is None:
            continue
        for pv in group.pvs:
            where = places[pv.uuid]
            if where[0] != disk:
                continue
            header = header_bytes(pv.on, stack)
            array = _array_of(pv.on, stack) if stack is not None else None
            if array is not None:
                header = array_overhead(array, source_disks or {})
            if len(group.pvs) == 1:
                smallest = minimum_group_size(group, filesystems,
                                              policies.get(group.name, VolumePolicy()))
                floor = (header + pv.pe_start + smallest,
                         f"the physical volume of {group.name}: "
                         + ("its md superblock, " if array is not None else
                            "its LUKS header, " if header else "")
                         + f"its metadata area and the smallest group its volumes fit in, "
                         f"{size(smallest)}")
                if array is not None:  # every member of the array on this disk
                    for member_disk, number in member_partitions(array):
                        if member_disk == disk:
                            floors[number] = floor
                    continue
                floors[where[1]] = floor
            else:
                floors[where[1]] = (header + (pv.device_size or pv.size + pv.pe_start),
                                    f"its original size: a physical volume of {group.name}, "
                                    f"which spans {len(group.pvs)} of them")
    for array in stack.arrays if stack is not None else []:
        inside = next((fs for fs in filesystems if fs.on == array.place), None)
        if inside is None:
            continue
        overhead = array_overhead(array, source_disks or {})
        floor, why, _ = data_floor(inside, array.size, 1.1, 64 * MiB)
        for member_disk, number in member_partitions(array):
            if member_disk == disk:
                floors[number] = (overhead + floor, f"a member of the md array of "
                                  f"{inside.title}: its superblock and {why}")
    for container in stack.luks if stack is not None else []:
        where = partition_of(container.on) if container.on.startswith("part:") else None
        inside = next((fs for fs in filesystems if fs.on == container.place), None)
        if where is None or where[0] != disk or inside is None:
            continue
        floor, why, _ = data_floor(inside, container.size - container.payload_offset,
                                   1.1, 64 * MiB)
        floors[where[1]] = (container.payload_offset + floor,
                            f"the LUKS container of {inside.title}: its header and {why}")
    return floors


@dataclass
class PlannedContainer:
    container: LuksContainer
    disk: str  # the source disk its partition is on
    partition: int


def plan_containers(stack: Stack, layouts: dict[str, Disk]) -> list[PlannedContainer]:
    """The containers on partitions of the mapped disks."""
    planned = []
    for container in stack.luks:
        where = partition_of(container.on) if container.on.startswith("part:") else None
        if where is not None and where[0] in layouts:
            planned.append(PlannedContainer(container, *where))
    return planned


def plan_groups(groups: list[VolumeGroup], filesystems: list[Filesystem],
                layouts: dict[str, Disk], policies: dict[str, VolumePolicy],
                stack: Stack | None = None, arrays: list[PlannedArray] = ()
                ) -> tuple[list[PlannedGroup], list[str]]:
    """The groups restored onto the new layouts (source disk name -> its new layout), and in
    words each group left out and why."""
    planned, left_out = [], []
    for group in groups:
        places = pv_partitions(group, stack)
        if places is None:
            left_out.append(f"volume group {group.name}: a physical volume of it is not on a "
                            "partition or a LUKS container (md arrays under LVM are not "
                            "restored yet)")
            continue
        on_arrays = {a.array.place: a for a in arrays}
        missing = sorted({disk for uuid, (disk, _) in places.items() if disk not in layouts
                          and next(pv.on for pv in group.pvs if pv.uuid == uuid)
                          not in on_arrays})
        if any(pv.on.startswith("md:") and pv.on not in on_arrays for pv in group.pvs):
            left_out.append(f"volume group {group.name}: the md array under it is not "
                            "restored")
            continue
        if missing:
            left_out.append(f"volume group {group.name}: its disk {', '.join(missing)} is not "
                            "restored")
            continue
        headers = {pv.uuid: header_bytes(pv.on, stack) for pv in group.pvs}
        new_sizes = {pv.uuid: on_arrays[pv.on].size if pv.on in on_arrays else
                     layouts[places[pv.uuid][0]].partition(places[pv.uuid][1]).size
                     - headers[pv.uuid] for pv in group.pvs}
        for pv in group.pvs:  # an array's PV is made on the array, on its first new member
            if pv.on in on_arrays:
                places[pv.uuid] = next(m for m in on_arrays[pv.on].members if m)
        extents = sum(max(0, (new_sizes[pv.uuid] - pv.pe_start) // group.extent_size)
                      for pv in group.pvs)
        resized = resize_group(group, filesystems, extents,
                               policies.get(group.name, VolumePolicy()))
        unchanged = all(d.new_size == d.old_size for d in resized.volumes) and all(
            new_sizes[pv.uuid] >= (pv.device_size or pv.size + pv.pe_start) for pv in group.pvs)
        if not unchanged:
            odd = [lv for lv in group.lvs if lv.type not in SCALABLE_TYPES or lv.stripes > 1]
            if odd:
                raise RestoreError(
                    f"Volume group {group.name} has {odd[0].type} volume {odd[0].name}, and "
                    "its size on the target differs from the original: only groups of "
                    "linear volumes are laid out anew.",
                    "Restore onto a disk at least as large as the original, or map the "
                    "volumes by hand from the expert shell.")
        planned.append(PlannedGroup(group, resized, places, unchanged,
                                    {pv.uuid: pv.on for pv in group.pvs
                                     if pv.on.startswith(("luks:", "md:"))}))
    return planned, left_out
