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
from ..layout import Disk, Filesystem, LuksContainer, Stack, VolumeGroup, partition_of
from ..units import size
from .lvresize import (
    SCALABLE_TYPES,
    GroupResized,
    VolumePolicy,
    minimum_group_size,
    resize_group,
)
from .resize import MiB, data_floor


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
        where = partition_of(place) if place.startswith("part:") else None
        if where is None:
            return None
        found[pv.uuid] = where
    return found


def header_bytes(place: str, stack: Stack | None) -> int:
    """What a LUKS container takes of its partition before the data (0 for a partition)."""
    container = _container_of(place, stack) if stack is not None else None
    return container.payload_offset if container is not None else 0


def stacked_floors(groups: list[VolumeGroup], filesystems: list[Filesystem], disk: str,
                   policies: dict[str, VolumePolicy],
                   stack: Stack | None = None) -> dict[int, tuple[int, str]]:
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
            if len(group.pvs) == 1:
                smallest = minimum_group_size(group, filesystems,
                                              policies.get(group.name, VolumePolicy()))
                floors[where[1]] = (header + pv.pe_start + smallest,
                                    f"the physical volume of {group.name}: "
                                    + ("its LUKS header, " if header else "")
                                    + "its metadata area and the smallest group its volumes "
                                    f"fit in, {size(smallest)}")
            else:
                floors[where[1]] = (header + (pv.device_size or pv.size + pv.pe_start),
                                    f"its original size: a physical volume of {group.name}, "
                                    f"which spans {len(group.pvs)} of them")
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
                stack: Stack | None = None) -> tuple[list[PlannedGroup], list[str]]:
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
        missing = sorted({disk for disk, _ in places.values() if disk not in layouts})
        if missing:
            left_out.append(f"volume group {group.name}: its disk {', '.join(missing)} is not "
                            "restored")
            continue
        headers = {pv.uuid: header_bytes(pv.on, stack) for pv in group.pvs}
        new_sizes = {uuid: layouts[disk].partition(number).size - headers[uuid]
                     for uuid, (disk, number) in places.items()}
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
                                     if pv.on.startswith("luks:")}))
    return planned, left_out
