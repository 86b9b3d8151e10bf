"""The plan: every step of a restore, computed without touching a disk, shown before it runs.

A plan is data: the target of each mapped disk (as discovery saw it: model, serial, size), the
new layout of each (resize.py), and an ordered list of typed steps (steps.py). It is saved and
loaded as JSON (`restore-console plan --json`, `restore --plan FILE`) and rendered as text for
review. The applier (applying/restore.py) carries the steps out in order.
"""

from __future__ import annotations

import os
import uuid as uuids
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ..backupset.manifest import BackupSet
from ..disks.discovery import TargetDisk
from ..errors import RestoreError
from ..layout import Disk, Filesystem, Subvolume, mount_order
from ..units import exact_size
from .boot import FinalizeOptions, boot_loader_lines, finalize_steps
from .mapping import DiskMapping
from .lvresize import GroupResized, VolumePolicy, describe_group
from .resize import (
    PartitionDecision,
    Resized,
    ResizePolicy,
    describe_resize,
    partition_label,
    resize_disk,
)
from .stackplan import (
    PlannedArray,
    PlannedContainer,
    PlannedGroup,
    plan_arrays,
    plan_containers,
    plan_groups,
    stacked_floors,
)
from .steps import (
    CreateArray,
    CreateLuks,
    CreatePartition,
    CreatePhysicalVolume,
    CreateTable,
    CreateVolumeGroup,
    MakeFilesystem,
    Mount,
    Restore,
    SetIdentifiers,
    Step,
    Verify,
    Wipe,
    WriteBootArea,
    WriteImage,
)

PLAN_FORMAT = 1


@dataclass(frozen=True)
class PlannedTarget:
    """A target disk as discovery saw it when the plan was made (TargetDisk's fields, what made
    it unsafe then, and its title): applying checks that the disk is still this one."""

    path: str
    name: str
    size: int
    logical_sector_size: int
    physical_sector_size: int
    alignment: int
    model: str = ""
    serial: str = ""
    wwn: str = ""
    removable: bool = False
    read_only: bool = False
    rotational: bool | None = None
    transport: str = ""
    is_image: bool = False
    backing_file: str = ""
    optimal_io_size: int = 0
    alignment_offset: int = 0
    sys_path: str = ""
    mounted: list[str] = field(default_factory=list)
    holders: list[str] = field(default_factory=list)
    holds_media: bool = False
    holds_system: bool = False
    problems: list[str] = field(default_factory=list)
    title: str = ""  # TargetDisk.title(): how the plan names it to the operator

    @classmethod
    def of(cls, target: TargetDisk) -> PlannedTarget:
        return cls(**target.to_json(), title=target.title())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def shown_title(self) -> str:
        """TargetDisk.title() made again from the fields: `title` as saved, by an older
        console, may say the size in decimal units (68.7 GB)."""
        known = {f.name for f in fields(TargetDisk)}
        return TargetDisk(**{k: v for k, v in asdict(self).items() if k in known}).title()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlannedTarget:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"its target {data.get('path')} has the unknown keys "
                             f"{sorted(unknown)}")
        try:
            return cls(**data)
        except TypeError:  # a key it needs is missing: the CLI says the file cannot be read
            raise ValueError(f"its target {data.get('path')} lacks keys it needs") from None


@dataclass(frozen=True)
class PlanTotals:
    """What a restore writes: bytes from the set (archives, raw images, boot areas) and files."""

    bytes: int = 0
    files: int = 0


@dataclass
class DiskPlan:
    source: str  # the disk's name in the set
    target: PlannedTarget
    reason: str  # why this target: "same serial (...)", "given with --map"
    resized: Resized

    @property
    def title(self) -> str:
        return self.target.shown_title()

    @property
    def layout(self) -> Disk:
        return self.resized.disk


@dataclass
class Plan:
    set_path: str
    set_id: str
    host: str
    created: str
    disks: list[DiskPlan]
    unmapped: list[str]  # original disks left out: their filesystems are not restored
    filesystems: list[int]  # ids of the filesystems the plan restores or recreates
    steps: list[Step]
    format: int = PLAN_FORMAT
    boot_loader: str = ""  # why grub is not installed again, in words ("" when it is)
    groups: list[GroupResized] = field(default_factory=list)  # LVM groups, their LVs resized
    left_out: list[str] = field(default_factory=list)  # layers not restored, in words

    def disk_for_target(self, target: str) -> DiskPlan:
        return next(d for d in self.disks if d.target.path == target)

    def table_of(self, target: str) -> str:
        return self.disk_for_target(target).layout.table

    def totals(self, backup_set: BackupSet) -> PlanTotals:
        """The bytes and files the steps write: restore steps carry theirs, raw images and boot
        areas are as large as the set's archives of them unpack to."""
        size = files = 0
        for step in self.steps:
            if isinstance(step, Restore):
                size += step.bytes
                files += step.files
            elif isinstance(step, WriteImage):
                archive = backup_set.filesystem(step.fs).archive
                size += archive.uncompressed_size if archive else 0
            elif isinstance(step, WriteBootArea):
                area = backup_set.disk(step.source).boot_area
                size += area.uncompressed_size if area else 0
        return PlanTotals(size, files)

    def to_json(self) -> dict[str, Any]:
        return {"format": self.format, "set_path": self.set_path, "set_id": self.set_id,
                "host": self.host, "created": self.created,
                "disks": [{"source": d.source, "target": d.target.to_json(), "reason": d.reason,
                           "resized": d.resized.to_json()} for d in self.disks],
                "unmapped": list(self.unmapped), "filesystems": list(self.filesystems),
                "steps": [s.to_json() for s in self.steps],
                # only when said: a plan saved before the finalize steps reads back the same
                **({"boot_loader": self.boot_loader} if self.boot_loader else {}),
                **({"groups": [g.to_json() for g in self.groups]} if self.groups else {}),
                **({"left_out": list(self.left_out)} if self.left_out else {})}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Plan":
        if data.get("format") != PLAN_FORMAT:
            raise RestoreError(f"This plan has format {data.get('format')!r}; this console "
                               f"reads plans of format {PLAN_FORMAT}.",
                               "Make the plan again with this console's 'plan' command.")
        return cls(set_path=data["set_path"], set_id=data["set_id"], host=data["host"],
                   created=data["created"],
                   disks=[DiskPlan(source=d["source"], target=PlannedTarget.from_json(d["target"]),
                                   reason=d["reason"],
                                   resized=Resized.from_json(d["resized"]))
                          for d in data["disks"]],
                   unmapped=list(data["unmapped"]), filesystems=list(data["filesystems"]),
                   steps=[Step.from_json(s) for s in data["steps"]], format=data["format"],
                   boot_loader=data.get("boot_loader", ""),
                   groups=[GroupResized.from_json(g) for g in data.get("groups") or []],
                   left_out=list(data.get("left_out") or []))


def _same_geometry(disk: Disk, filesystems: list[Filesystem], policy: ResizePolicy) -> Resized:
    """The original layout as it was: a target of the same size and sector size, no overrides."""
    by_number = {fs.partition: fs for fs in filesystems}
    decisions = [PartitionDecision(number=p.number, kind=p.kind,
                                   label="extended" if p.kind == "extended" else
                                   partition_label(p, by_number.get(p.number), disk.table),
                                   rule="kept", why="same size disk: the original geometry",
                                   old_start=p.start, old_size=p.size, new_start=p.start,
                                   new_size=p.size)
                 for p in disk.partitions]
    sector = disk.logical_sector_size
    ends = [p.start + p.size for p in disk.partitions]
    return Resized(disk=Disk.from_json(disk.to_json()), decisions=decisions,
                   source_size=disk.size, mode="same geometry", alignment=policy.alignment,
                   usable_start=min((p.start for p in disk.partitions), default=sector),
                   usable_end=max(ends, default=disk.size))


def layout_for(disk: Disk, filesystems: list[Filesystem], target: TargetDisk,
               policy: ResizePolicy,
               stacked: dict[int, tuple[int, str]] | None = None) -> Resized:
    """The layout of `disk` on `target`: identical geometry on a disk of the same size (unless
    the operator asked for changes), resized otherwise."""
    policy = replace(policy, alignment=max(policy.alignment, target.alignment))
    if (target.size == disk.size and target.logical_sector_size == disk.logical_sector_size
            and not policy.overrides and policy.mode == "proportional"):
        return _same_geometry(disk, filesystems, policy)
    return resize_disk(disk, filesystems, target.size, policy, target.logical_sector_size,
                       stacked)


def build_plan(backup_set: BackupSet, mapping: DiskMapping, targets: list[TargetDisk],
               policies: dict[str, ResizePolicy] | None = None,
               options: FinalizeOptions | None = None,
               volume_policies: dict[str, VolumePolicy] | None = None) -> Plan:
    """The plan for a checked mapping (mapping.validate_mapping) onto discovered targets;
    volume_policies: the LV overrides by volume group name."""
    policies = policies or {}
    volume_policies = volume_policies or {}
    groups = backup_set.stack.volume_groups
    by_path = {t.path: t for t in targets}
    disks: list[DiskPlan] = []
    for source, target_path in mapping.mapping.items():
        if target_path is None:
            continue
        disk = backup_set.disk(source)
        target = by_path[target_path]
        filesystems = [fs for fs in backup_set.filesystems if fs.disk == source and not fs.on]
        floors = stacked_floors(groups, backup_set.filesystems, source, volume_policies,
                                backup_set.stack, {d.name: d for d in backup_set.disks})
        resized = layout_for(disk, filesystems, target, policies.get(source, ResizePolicy()),
                             floors)
        disks.append(DiskPlan(source=source, target=PlannedTarget.of(target),
                              reason=mapping.reasons.get(source, ""), resized=resized))
    if not disks:
        why = "; ".join(f"{src}: {reason}" for src, reason in mapping.reasons.items() if reason)
        raise RestoreError("The mapping leaves every disk of the set out: there is nothing to "
                           "restore" + (f" ({why})." if why else "."),
                           "Name a target for each disk with --map SRC=TARGET (a disk or a "
                           "disk-image file).")
    layouts = {d.source: d.layout for d in disks}
    arrays, arrays_left_out = plan_arrays(backup_set.stack, layouts,
                                          {d.name: d for d in backup_set.disks})
    planned, left_out = plan_groups(groups, backup_set.filesystems, layouts, volume_policies,
                                    backup_set.stack, arrays)
    left_out = arrays_left_out + left_out
    containers = plan_containers(backup_set.stack, layouts)
    restored = ({f"lv:{g.group.name}/{lv.name}" for g in planned for lv in g.group.lvs}
                | {c.container.place for c in containers} | {a.array.place for a in arrays})
    chosen = [fs for fs in backup_set.filesystems
              if (fs.on in restored if fs.on else any(fs.disk == d.source for d in disks))]
    unmapped = [d.name for d in backup_set.disks if mapping.mapping.get(d.name) is None]
    steps, why_not = _steps(backup_set, disks, chosen, options or FinalizeOptions(), planned,
                            containers, arrays)
    return Plan(set_path=os.path.abspath(backup_set.medium.where), set_id=backup_set.set_id,
                host=backup_set.host, created=backup_set.created, disks=disks, unmapped=unmapped,
                filesystems=[fs.id for fs in chosen], steps=steps, boot_loader=why_not,
                groups=[g.resized for g in planned], left_out=left_out)


# The filesystems mkfs can give a UUID of the operator's choice.
_NEW_UUID_TYPES = ("ext2", "ext3", "ext4", "xfs", "btrfs", "swap")


def _steps(backup_set: BackupSet, disks: list[DiskPlan], chosen: list[Filesystem],
           options: FinalizeOptions, groups: list[PlannedGroup] = (),
           containers: list[PlannedContainer] = (), arrays: list[PlannedArray] = ()
           ) -> tuple[list[Step], str]:
    """The steps, and why grub is not installed again ("" when it is)."""
    steps: list[Step] = []
    for plan in disks:
        layout, target = plan.layout, plan.target.path
        steps.append(Wipe(target))
        steps.append(CreateTable(target, table=layout.table, disk_id=layout.disk_id))
        labels = {d.number: d.label for d in plan.resized.decisions}
        for part in sorted(layout.partitions, key=lambda p: (p.kind == "logical", p.number)):
            steps.append(CreatePartition(target, number=part.number, start=part.start,
                                         size=part.size, kind=part.kind,
                                         holds=labels.get(part.number, "")))
        steps.append(SetIdentifiers(target))
        original = backup_set.disk(plan.source)
        if original.boot_area is not None:
            steps.append(WriteBootArea(target, source=plan.source))
        for planned in containers:
            if planned.disk != plan.source:
                continue
            container = planned.container
            part_size = layout.partition(planned.partition).size
            steps.append(CreateLuks(target, uuid=container.uuid, partition=planned.partition,
                                    size=part_size, name=container.name,
                                    version=container.version, cipher=container.cipher,
                                    key_size=container.key_size))
            for fs in chosen:
                if fs.on == container.place and fs.type:
                    steps.append(_make(fs, target, part_size - container.payload_offset,
                                       options))
                elif fs.on == container.place and fs.archive is not None:
                    steps.append(WriteImage(target, fs=fs.id, partition=0, title=fs.title,
                                            on=fs.on))
        for group in groups:
            for pv in group.group.pvs:
                disk, number = group.partitions[pv.uuid]
                inside = group.containers.get(pv.uuid, "")
                if disk == plan.source and not inside.startswith("md:"):
                    header = (backup_set.stack.container(inside[5:]).payload_offset
                              if inside else 0)
                    steps.append(CreatePhysicalVolume(
                        target, group=group.group.name, uuid=pv.uuid, partition=number,
                        size=layout.partition(number).size - header, on=inside))
        for fs in chosen:
            if fs.disk != plan.source or fs.on:
                continue
            if fs.archive is not None and fs.archive.kind == "raw":
                steps.append(WriteImage(target, fs=fs.id, partition=fs.partition,
                                        title=labels.get(fs.partition, fs.title)))
            elif fs.type:
                steps.append(_make(fs, target, layout.partition(fs.partition).size, options))
    targets = {d.source: d.target.path for d in disks}
    array_sizes = {}
    for planned in arrays:
        array = planned.array
        target = targets[next(m for m in planned.members if m)[0]]
        members = tuple(f"{targets[m[0]]}:{m[1]}" if m else "missing" for m in planned.members)
        steps.append(CreateArray(target, uuid=array.uuid, device=array.device, level=array.level,
                                 metadata=array.metadata, name=array.name, members=members,
                                 size=planned.size))
        array_sizes[array.place] = planned.size
        for fs in chosen:
            if fs.on == array.place and fs.type:
                steps.append(_make(fs, target, planned.size, options))
            elif fs.on == array.place and fs.archive is not None:
                steps.append(WriteImage(target, fs=fs.id, partition=0, title=fs.title,
                                        on=fs.on))
        for group in groups:
            for pv in group.group.pvs:
                if pv.on == array.place:
                    steps.append(CreatePhysicalVolume(
                        target, group=group.group.name, uuid=pv.uuid, partition=0,
                        size=planned.size, on=pv.on))
    for group in groups:
        first_disk = group.partitions[group.group.pvs[0].uuid][0]
        target = targets[first_disk]
        sizes = {d.name: d.new_size for d in group.resized.volumes}
        steps.append(CreateVolumeGroup(target, group=group.group.name, uuid=group.group.uuid,
                                       sizes=sizes, physical_volumes=len(group.group.pvs)))
        for fs in chosen:
            if not fs.on.startswith(f"lv:{group.group.name}/"):
                continue
            size = sizes[fs.on.split("/", 1)[1]]
            if fs.archive is not None and fs.archive.kind == "raw":
                steps.append(WriteImage(target, fs=fs.id, partition=0, title=fs.title,
                                        on=fs.on))
            elif fs.type:
                steps.append(_make(fs, target, size, options))
    tar = [fs for fs in chosen if fs.archive is not None and fs.archive.kind == "tar"]
    nested = mount_order(tar)
    if not any(fs.place == "/" for fs in nested):
        nested = []  # without the root filesystem there is no tree to nest the others in
    for fs in nested + [fs for fs in tar if fs not in nested]:
        target = _target_of(fs, disks, backup_set)
        steps.append(Mount(target, fs=fs.id, partition=fs.partition, type=fs.type,
                           title=fs.title, mountpoint=fs.place if fs in nested else "",
                           subvolume=next((s.path for s in fs.subvolumes
                                           if not fs.mountpoint and s.mountpoint == fs.place), ""),
                           subvolumes=bool(fs.subvolumes), on=fs.on))
        steps.append(Restore(target, fs=fs.id, title=fs.title,
                             files=sum(a.members for a in fs.archives),
                             bytes=sum(a.uncompressed_size for a in fs.archives),
                             subvolumes=tuple(_said(s) for s in fs.subvolumes)))
    if tar:
        steps.append(Verify(fs=tuple(fs.id for fs in tar)))
    mapped = {d.source: (d.target.path, d.layout) for d in disks}
    made = [s for s in steps if isinstance(s, MakeFilesystem)]
    finishing, why_not = finalize_steps(backup_set, mapped, made, bool(nested), options)
    return steps + finishing, why_not


def _target_of(fs: Filesystem, disks: list[DiskPlan], backup_set: BackupSet) -> str:
    """The target disk a filesystem's steps name: its partition's, or for one in a layer the
    first restored disk under it (a mirror's other half may be left out)."""
    sources = ([d for d, _ in backup_set.stack.partitions_under(fs.on)] if fs.on
               else [fs.disk])
    return next(d.target.path for source in sources for d in disks if d.source == source)


def _make(fs: Filesystem, target: str, size: int, options: FinalizeOptions) -> MakeFilesystem:
    fresh = options.new_uuids and fs.uuid and fs.type in _NEW_UUID_TYPES
    return MakeFilesystem(target, fs=fs.id, partition=fs.partition, title=fs.title, type=fs.type,
                          uuid=str(uuids.uuid4()) if fresh else fs.uuid, label=fs.label,
                          size=size, on=fs.on)


def _said(subvolume: Subvolume) -> str:
    """@snap1 (read-only), @ (default)"""
    flags = [word for word, on in (("read-only", subvolume.read_only),
                                   ("default", subvolume.default)) if on]
    return subvolume.path + (f" ({', '.join(flags)})" if flags else "")


def describe_step(plan: Plan, step: Step) -> str:
    """One line saying exactly what the step does, to which disk (each kind says it: steps.py)."""
    return step.describe(plan)


def render(plan: Plan) -> str:
    """The plan as the operator reviews it: targets, layouts, then every step in order."""
    lines = [f"Restore plan for the set {plan.set_id} of host {plan.host}, made {plan.created}",
             f"Set: {plan.set_path}", "",
             "These disks will be OVERWRITTEN; everything on them is lost:"]
    for disk in plan.disks:
        target = disk.target
        ident = ", ".join(x for x in (target.model,
                                      f"serial {target.serial}" if target.serial else "",
                                      f"WWN {target.wwn}" if target.wwn else "") if x)
        lines.append(f"  {target.path}: {exact_size(target.size)}"
                     f"{', ' + ident if ident else ''}")
        lines.append(f"    receives original disk {disk.source}"
                     + (f" ({disk.reason})" if disk.reason else ""))
    for name in plan.unmapped:
        lines.append(f"  original disk {name}: not restored (no target); its filesystems are "
                     "left out")
    for disk in plan.disks:
        lines += ["", f"Layout of {disk.source} on {disk.target.path}:"]
        lines += ["  " + line for line in describe_resize(disk.resized)]
    for group in plan.groups:
        lines += ["", f"Logical volumes of {group.group}:"]
        lines += ["  " + line for line in describe_group(group)]
    for words in plan.left_out:
        lines.append(f"  not restored: {words}")
    lines += ["", "Boot loader:"]
    lines += boot_loader_lines({d.target.path: d.layout for d in plan.disks}, plan.steps,
                               plan.boot_loader)
    lines += ["", "Steps:"]
    current = None
    for number, step in enumerate(plan.steps, start=1):
        if step.target and step.target != current:
            current = step.target
            lines.append(f"  on {plan.disk_for_target(current).title}:")
        lines.append(f"  {number:>3}. {describe_step(plan, step)}")
    return "\n".join(lines)
