"""The stack's part of a plan: how far a partition under a volume group may shrink, the
group's LVs on the resized partitions, and the steps that make the group again.

A volume group is restored when every one of its PVs lies on a partition of a mapped disk
(md arrays and LUKS under PVs are not planned here yet: such a group is left out, said in
words). Its size on the target is the sum of its PVs' new partitions, less each one's
metadata area (pe_start), in whole extents; lvresize.py shares it among the LVs.

The group is written from its saved vgcfgbackup text when nothing changed (every LV at its
size, every PV at least as large as it was): the group is then what it was, extent for
extent, whatever its LV types. Otherwise its metadata is written anew (volumes/lvm.py
group_metadata), each LV linear at its new size, with every UUID, name and tag kept; a group
with mirror, raid, thin or striped LVs whose sizes must change is refused in words.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import RestoreError
from ..layout import Disk, Filesystem, VolumeGroup, partition_of
from ..units import size
from .lvresize import (
    SCALABLE_TYPES,
    GroupResized,
    VolumePolicy,
    minimum_group_size,
    resize_group,
)


@dataclass
class PlannedGroup:
    group: VolumeGroup
    resized: GroupResized
    # PV UUID -> (source disk, partition number)
    partitions: dict[str, tuple[str, int]]
    from_saved: bool  # vgcfgrestore of the saved text; else metadata written anew


def pv_partitions(group: VolumeGroup) -> dict[str, tuple[str, int]] | None:
    """PV UUID -> (disk, partition) when every PV lies on a partition; None otherwise."""
    found = {}
    for pv in group.pvs:
        where = partition_of(pv.on) if pv.on.startswith("part:") else None
        if where is None:
            return None
        found[pv.uuid] = where
    return found


def stacked_floors(groups: list[VolumeGroup], filesystems: list[Filesystem], disk: str,
                   policies: dict[str, VolumePolicy]) -> dict[int, tuple[int, str]]:
    """partition number -> (floor, why) of the PVs on `disk`: a group's only PV holds its
    metadata area and the smallest group its LVs fit in; a PV of a group spread over several
    keeps its original size (how the others grow is not known while one disk is laid out)."""
    floors = {}
    for group in groups:
        places = pv_partitions(group)
        if places is None:
            continue
        for pv in group.pvs:
            where = places[pv.uuid]
            if where[0] != disk:
                continue
            if len(group.pvs) == 1:
                smallest = minimum_group_size(group, filesystems,
                                              policies.get(group.name, VolumePolicy()))
                floors[where[1]] = (pv.pe_start + smallest,
                                    f"the physical volume of {group.name}: its metadata area "
                                    f"and the smallest group its volumes fit in, "
                                    f"{size(smallest)}")
            else:
                floors[where[1]] = (pv.device_size or pv.size + pv.pe_start,
                                    f"its original size: a physical volume of {group.name}, "
                                    f"which spans {len(group.pvs)} of them")
    return floors


def plan_groups(groups: list[VolumeGroup], filesystems: list[Filesystem],
                layouts: dict[str, Disk], policies: dict[str, VolumePolicy]
                ) -> tuple[list[PlannedGroup], list[str]]:
    """The groups restored onto the new layouts (source disk name -> its new layout), and in
    words each group left out and why."""
    planned, left_out = [], []
    for group in groups:
        places = pv_partitions(group)
        if places is None:
            left_out.append(f"volume group {group.name}: a physical volume of it is not on a "
                            "partition (md arrays and LUKS under LVM are not restored yet)")
            continue
        missing = sorted({disk for disk, _ in places.values() if disk not in layouts})
        if missing:
            left_out.append(f"volume group {group.name}: its disk {', '.join(missing)} is not "
                            "restored")
            continue
        new_sizes = {uuid: layouts[disk].partition(number).size
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
        planned.append(PlannedGroup(group, resized, places, unchanged))
    return planned, left_out
