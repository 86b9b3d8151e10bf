"""Which of this machine's disks each original disk can go onto, for the screens that choose.

A target is refused for writing when discovery finds it unsafe (TargetDisk.problems()) or when
the original's layout, with the operator's edits, cannot be planned onto it (layout_for raising
RestoreError: its words are the reason). Larger and smaller targets are fine when the layout
fits. Comparing a restored disk with the set only reads, so only discovery's reasons that stand
against reading (none today but its being in use) count there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.backupset.manifest import BackupSet
from ..core.disks.discovery import TargetDisk
from ..core.errors import RestoreError
from ..core.layout import Disk
from ..core.planning.mapping import DiskMapping, suggest_mapping
from ..core.planning.plan import Plan, build_plan, layout_for
from ..core.planning.resize import Resized, ResizePolicy, minimum_target_size

# What does not stand against comparing: it only reads, and the set's own disk can be read.
_READ_ONLY_FINE = ("read-only", "holds the backup set being restored")


@dataclass
class Fit:
    """Whether an original disk goes onto a target: the planned layout, or the reasons not."""

    problems: list[str] = field(default_factory=list)
    resized: Resized | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def fit(backup_set: BackupSet, disk: Disk, target: TargetDisk,
        policy: ResizePolicy | None = None, *, writing: bool = True) -> Fit:
    """What it takes to put `disk` onto `target` (restoring when `writing`, else comparing)."""
    if not writing:
        return Fit([p for p in target.problems() if p not in _READ_ONLY_FINE
                    and not p.startswith("in use: ")])
    problems = list(target.problems())
    try:
        resized = layout_for(disk, backup_set.filesystems_on(disk.name), target,
                             policy or ResizePolicy())
    except RestoreError as exc:
        # The VGA font of the Linux console has no multiplication sign.
        return Fit(problems + [exc.message.replace("×", "x")])
    return Fit(problems, resized)


def minimum_sizes(backup_set: BackupSet, policies: dict[str, ResizePolicy] | None = None):
    """The smallest target of each original disk, as the plan computes it (never more than the
    original size: a disk of the original size takes the layout as it was)."""
    policies = policies or {}

    def minimum(disk: Disk) -> int:
        try:
            needed = minimum_target_size(disk, backup_set.filesystems_on(disk.name),
                                         policies.get(disk.name))
        except RestoreError:
            return disk.size
        return min(needed, disk.size)

    return minimum


def suggest(backup_set: BackupSet, targets: list[TargetDisk],
            policies: dict[str, ResizePolicy] | None = None) -> DiskMapping:
    """The suggested mapping (same drive, same size and name, same size, smallest that fits)."""
    return suggest_mapping(backup_set.disks, targets, minimum_sizes(backup_set, policies))


def plan_for(backup_set: BackupSet, chosen: dict[str, str], targets: list[TargetDisk],
             policies: dict[str, ResizePolicy] | None = None,
             reasons: dict[str, str] | None = None) -> Plan:
    """The plan of restoring the chosen disks (original name -> target path)."""
    reasons = reasons or {}
    mapping = DiskMapping(mapping={d.name: chosen.get(d.name) for d in backup_set.disks},
                          reasons={name: reasons.get(name, "chosen by you") for name in chosen})
    return build_plan(backup_set, mapping, targets, policies or {})
