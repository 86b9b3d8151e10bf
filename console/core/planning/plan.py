"""The plan: every step of a restore, computed without touching a disk, shown before it runs.

A plan is data: the target of each mapped disk (as discovery saw it: model, serial, size), the
new layout of each (resize.py), and an ordered list of steps. It is saved and loaded as JSON
(`restore-console plan --json`, `restore --plan FILE`) and rendered as text for review. The
applier (apply.py) carries the steps out in order.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import humanize

from ..backupset.manifest import BackupSet
from ..disks.discovery import TargetDisk
from ..errors import RestoreError
from ..layout import Disk, Filesystem
from .mapping import DiskMapping
from .resize import (
    PartitionDecision,
    Resized,
    ResizePolicy,
    describe_resize,
    resize_disk,
)

PLAN_FORMAT = 1

# The step actions, in the order a plan uses them (describe_step says each in words).
ACTIONS = ("wipe", "create-table", "create-partition", "set-identifiers", "write-boot-area",
           "make-filesystem", "write-image", "mount", "restore", "verify", "finalize")


def _size(n: int) -> str:
    return humanize.naturalsize(n, binary=True)


@dataclass
class Step:
    action: str  # one of ACTIONS
    target: str = ""  # the target disk's path ("" for steps on the restored tree)
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class DiskPlan:
    source: str  # the disk's name in the set
    target: dict[str, Any]  # TargetDisk.to_json() as planned
    reason: str  # why this target: "same serial (...)", "given with --map"
    resized: Resized

    @property
    def title(self) -> str:
        return self.target["title"]

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

    def disk_for_target(self, target: str) -> DiskPlan:
        return next(d for d in self.disks if d.target["path"] == target)

    def to_json(self) -> dict[str, Any]:
        return {"format": self.format, "set_path": self.set_path, "set_id": self.set_id,
                "host": self.host, "created": self.created,
                "disks": [{"source": d.source, "target": d.target, "reason": d.reason,
                           "resized": d.resized.to_json()} for d in self.disks],
                "unmapped": list(self.unmapped), "filesystems": list(self.filesystems),
                "steps": [asdict(s) for s in self.steps]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Plan":
        if data.get("format") != PLAN_FORMAT:
            raise RestoreError(f"This plan has format {data.get('format')!r}; this console "
                               f"reads plans of format {PLAN_FORMAT}.",
                               "Make the plan again with this console's 'plan' command.")
        return cls(set_path=data["set_path"], set_id=data["set_id"], host=data["host"],
                   created=data["created"],
                   disks=[DiskPlan(source=d["source"], target=d["target"], reason=d["reason"],
                                   resized=Resized.from_json(d["resized"]))
                          for d in data["disks"]],
                   unmapped=list(data["unmapped"]), filesystems=list(data["filesystems"]),
                   steps=[Step(**s) for s in data["steps"]], format=data["format"])


def _same_geometry(disk: Disk, filesystems: list[Filesystem], policy: ResizePolicy) -> Resized:
    """The original layout as it was: a target of the same size and sector size, no overrides."""
    labels = {fs.partition: fs.title for fs in filesystems}
    decisions = [PartitionDecision(number=p.number, kind=p.kind,
                                   label=labels.get(p.number, p.kind if p.kind == "extended"
                                                    else "no filesystem"),
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
               policy: ResizePolicy) -> Resized:
    """The layout of `disk` on `target`: identical geometry on a disk of the same size (unless
    the operator asked for changes), resized otherwise."""
    policy = replace(policy, alignment=max(policy.alignment, target.alignment))
    if (target.size == disk.size and target.logical_sector_size == disk.logical_sector_size
            and not policy.overrides and policy.mode == "proportional"):
        return _same_geometry(disk, filesystems, policy)
    return resize_disk(disk, filesystems, target.size, policy, target.logical_sector_size)


def build_plan(backup_set: BackupSet, mapping: DiskMapping, targets: list[TargetDisk],
               policies: dict[str, ResizePolicy] | None = None) -> Plan:
    """The plan for a checked mapping (mapping.validate_mapping) onto discovered targets."""
    policies = policies or {}
    by_path = {t.path: t for t in targets}
    disks: list[DiskPlan] = []
    for source, target_path in mapping.mapping.items():
        if target_path is None:
            continue
        disk = backup_set.disk(source)
        target = by_path[target_path]
        filesystems = [fs for fs in backup_set.filesystems if fs.disk == source]
        resized = layout_for(disk, filesystems, target, policies.get(source, ResizePolicy()))
        disks.append(DiskPlan(source=source, target={**target.to_json(), "title": target.title()},
                              reason=mapping.reasons.get(source, ""), resized=resized))
    if not disks:
        why = "; ".join(f"{src}: {reason}" for src, reason in mapping.reasons.items() if reason)
        raise RestoreError("The mapping leaves every disk of the set out: there is nothing to "
                           "restore" + (f" ({why})." if why else "."),
                           "Name a target for each disk with --map SRC=TARGET (a disk or a "
                           "disk-image file).")
    chosen = [fs for fs in backup_set.filesystems
              if any(fs.disk == d.source for d in disks)]
    unmapped = [d.name for d in backup_set.disks if mapping.mapping.get(d.name) is None]
    return Plan(set_path=os.path.abspath(backup_set.path), set_id=backup_set.set_id,
                host=backup_set.host, created=backup_set.created, disks=disks, unmapped=unmapped,
                filesystems=[fs.id for fs in chosen], steps=_steps(backup_set, disks, chosen))


def mount_order(filesystems: list[Filesystem]) -> list[Filesystem]:
    """Filesystems with a mount point, parents before children (/ before /boot before /boot/efi)."""
    mounted_ones = [fs for fs in filesystems if fs.mountpoint.startswith("/")]
    return sorted(mounted_ones, key=lambda fs: (fs.mountpoint.rstrip("/").count("/"),
                                                fs.mountpoint))


def _steps(backup_set: BackupSet, disks: list[DiskPlan], chosen: list[Filesystem]) -> list[Step]:
    steps: list[Step] = []
    for plan in disks:
        layout, target = plan.layout, plan.target["path"]
        steps.append(Step("wipe", target))
        steps.append(Step("create-table", target, {"table": layout.table,
                                                   "disk_id": layout.disk_id}))
        labels = {d.number: d.label for d in plan.resized.decisions}
        for part in sorted(layout.partitions, key=lambda p: (p.kind == "logical", p.number)):
            steps.append(Step("create-partition", target, {
                "number": part.number, "start": part.start, "size": part.size, "kind": part.kind,
                "holds": labels.get(part.number, "")}))
        steps.append(Step("set-identifiers", target))
        original = backup_set.disk(plan.source)
        if original.boot_area is not None:
            steps.append(Step("write-boot-area", target, {"source": plan.source}))
        for fs in chosen:
            if fs.disk != plan.source:
                continue
            where = {"fs": fs.id, "partition": fs.partition, "title": fs.title}
            if fs.archive is not None and fs.archive.kind == "raw":
                steps.append(Step("write-image", target, where))
            elif fs.type:
                size = layout.partition(fs.partition).size
                steps.append(Step("make-filesystem", target, {
                    **where, "type": fs.type, "uuid": fs.uuid, "label": fs.label,
                    "size": size}))
    tar = [fs for fs in chosen if fs.archive is not None and fs.archive.kind == "tar"]
    nested = mount_order(tar)
    if not any(fs.mountpoint == "/" for fs in nested):
        nested = []  # without the root filesystem there is no tree to nest the others in
    for fs in nested + [fs for fs in tar if fs not in nested]:
        target = next(d.target["path"] for d in disks if d.source == fs.disk)
        steps.append(Step("mount", target, {"fs": fs.id, "partition": fs.partition,
                                            "type": fs.type, "title": fs.title,
                                            "mountpoint": fs.mountpoint if fs in nested else ""}))
        steps.append(Step("restore", target, {"fs": fs.id, "title": fs.title,
                                              "files": fs.archive.members,
                                              "bytes": fs.archive.uncompressed_size}))
    if tar:
        steps.append(Step("verify", "", {"fs": [fs.id for fs in tar]}))
    steps.append(Step("finalize", "", {"log": bool(nested)}))
    return steps


def describe_step(plan: Plan, step: Step) -> str:
    """One line saying exactly what the step does, to which disk."""
    d = step.detail
    disk = step.target
    if step.action == "wipe":
        return f"Wipe the old partition table and signatures on {disk}"
    if step.action == "create-table":
        ident = f" (disk id {d['disk_id']})" if d.get("disk_id") else ""
        return f"Create a new {d['table']} partition table on {disk}{ident}"
    if step.action == "create-partition":
        holds = f" for {d['holds']}" if d.get("holds") else ""
        kind = "" if plan.disk_for_target(disk).layout.table == "gpt" else f"{d['kind']} "
        return (f"Create {kind}partition {d['number']} on {disk}: {_size(d['size'])} at "
                f"{_size(d['start'])}{holds}")
    if step.action == "set-identifiers":
        return "Set the original disk id, partition types and partition UUIDs"
    if step.action == "write-boot-area":
        return f"Write the boot code and the gap before the first partition of {d['source']}"
    if step.action == "write-image":
        return f"Write the saved image of {d['title']} onto partition {d['partition']}"
    if step.action == "make-filesystem":
        return (f"Make {d['type']} on partition {d['partition']} ({_size(d['size'])}), "
                f"UUID {d['uuid'] or '-'}, label {d['label'] or '-'}")
    if step.action == "mount":
        where = d["mountpoint"] or "a mount of its own"
        return f"Mount {d['title']} (partition {d['partition']}) at {where}"
    if step.action == "restore":
        return (f"Restore filesystem {d['fs']} ({d['title']}): {humanize.intcomma(d['files'])} "
                f"entries, {_size(d['bytes'])}, each file checked against its BLAKE3")
    if step.action == "verify":
        return "Verify kind, owner, mode, times and links of every restored entry"
    if step.action == "finalize":
        return ("Copy the log into the restored /var/log, unmount everything, detach loop devices"
                if d.get("log") else "Unmount everything, detach loop devices")
    raise RestoreError(f"The plan has an unknown step {step.action!r}.",
                       "Make the plan again with this console.")


def render(plan: Plan) -> str:
    """The plan as the operator reviews it: targets, layouts, then every step in order."""
    lines = [f"Restore plan for the set {plan.set_id} of host {plan.host}, made {plan.created}",
             f"Set: {plan.set_path}", "",
             "These disks will be OVERWRITTEN; everything on them is lost:"]
    for disk in plan.disks:
        target = disk.target
        ident = ", ".join(x for x in (target.get("model", ""),
                                      f"serial {target['serial']}" if target.get("serial") else "",
                                      f"WWN {target['wwn']}" if target.get("wwn") else "") if x)
        lines.append(f"  {target['path']}: {humanize.naturalsize(target['size'])} = "
                     f"{_size(target['size'])} ({target['size']} bytes)"
                     f"{', ' + ident if ident else ''}")
        lines.append(f"    receives original disk {disk.source}"
                     + (f" ({disk.reason})" if disk.reason else ""))
    for name in plan.unmapped:
        lines.append(f"  original disk {name}: not restored (no target); its filesystems are "
                     "left out")
    for disk in plan.disks:
        lines += ["", f"Layout of {disk.source} on {disk.target['path']}:"]
        lines += ["  " + line for line in describe_resize(disk.resized)]
    lines += ["", "Steps:"]
    current = None
    for number, step in enumerate(plan.steps, start=1):
        if step.target and step.target != current:
            current = step.target
            lines.append(f"  on {plan.disk_for_target(current).title}:")
        lines.append(f"  {number:>3}. {describe_step(plan, step)}")
    return "\n".join(lines)
