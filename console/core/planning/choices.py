"""The operator's choice of a target for each original disk of a set, and what stands against it.

One model for everyone who chooses: the screen that picks targets (restoring or comparing), the
disk-mapping editor, and the command line's planning (plan.make_plan). It holds the set, this
machine's targets, the resize policy of each original disk and the chosen mapping, and says:
the suggestion (mapping.suggest_mapping), whether an original disk fits on a target and, if
not, why (each Problem with its kind), which targets another disk has taken, and the plan of
the choice (plan.build_plan).

A target takes a disk when discovery finds it safe (TargetDisk.unsafe()) and the disk's layout,
with the operator's edits, can be planned onto it (plan.layout_for; its refusal's words are the
reason). Larger and smaller targets are fine when the layout fits. Comparing a restored disk
with the set only reads: there a read-only disk, the set's own disk and a disk in use are fine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..backupset.manifest import BackupSet, load_set
from ..disks.discovery import TargetDisk, discover_targets
from ..disks.problems import Problem, ProblemKind
from ..disks.safety import check_leftovers
from ..errors import RestoreError, UsageError
from ..layout import Disk
from .boot import FinalizeOptions
from .lvresize import VolumePolicy
from .mapping import DiskMapping, require_valid, suggest_mapping, uncertain, validate_mapping
from .plan import Plan, build_plan, layout_for
from .resize import Resized, ResizePolicy, check_overrides, minimum_target_size
from .stackplan import stacked_floors

CHOSEN_BY_YOU = "chosen by you"

# What does not stand against comparing: it only reads, and the set's own disk can be read.
FINE_FOR_READING = frozenset({ProblemKind.READ_ONLY, ProblemKind.HOLDS_SET, ProblemKind.IN_USE})


def minimum_target_size_for(backup_set: BackupSet, disk: Disk,
                            policy: ResizePolicy | None = None) -> int:
    """The smallest target the layout of `disk` goes onto under `policy`, never more than the
    original size (a disk of the original size takes the layout as it was). Raises
    RestoreError when the resize cannot lay the disk out at all."""
    needed = minimum_target_size(disk, backup_set.filesystems_on(disk.name), policy,
                                 stacked_floors=disk_floors(backup_set, disk))
    return min(needed, disk.size)


def check_volume_policies(backup_set: BackupSet, policies: dict[str, VolumePolicy]
                          ) -> dict[str, VolumePolicy]:
    """Refuses LV overrides for a volume group the set lacks (UsageError); the LV names are
    checked when the group is resized."""
    known = {g.name for g in backup_set.stack.volume_groups}
    for name in policies:
        if name not in known:
            raise UsageError(f"There is an override for volume group {name}, but the set has "
                             + (f"only {', '.join(sorted(known))}." if known else "none."),
                             "'restore-console inspect SET' shows its volume groups.")
    return policies


def disk_floors(backup_set: BackupSet, disk: Disk) -> dict[int, tuple[int, str]]:
    """The floors of the partitions of disk that hold a volume group's PVs or a LUKS
    container."""
    return stacked_floors(backup_set.stack.volume_groups, backup_set.filesystems, disk.name, {},
                          backup_set.stack)


@dataclass
class Fit:
    """Whether an original disk goes onto a target: the planned layout, or the problems."""

    problems: list[Problem] = field(default_factory=list)
    resized: Resized | None = None  # None when the layout does not fit, or when comparing

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def words(self) -> list[str]:
        return [problem.words for problem in self.problems]


class TargetChoices:
    """The set, this machine's targets, a resize policy per original disk, and the chosen
    target of each original disk (by name; a disk without one is not restored)."""

    def __init__(self, backup_set: BackupSet, targets: Sequence[TargetDisk],
                 policies: Mapping[str, ResizePolicy] | None = None, *,
                 comparing: bool = False) -> None:
        self.backup_set = backup_set
        self.targets: list[TargetDisk] = list(targets)
        self.policies: dict[str, ResizePolicy] = dict(policies or {})
        self.comparing = comparing  # only reading: see FINE_FOR_READING
        self.chosen: dict[str, str] = {}  # original disk name -> target path
        self.reasons: dict[str, str] = {}  # original disk name -> why: "same serial (...)"
        self._fits: dict[tuple[str, str], Fit] = {}  # (disk name, target path): layouts cost
        self.finalize = FinalizeOptions()  # new UUIDs, rebuilding the initramfs
        self.volume_policies: dict[str, VolumePolicy] = {}  # LV overrides by volume group

    # ---- what is held ----

    def target(self, path: str | None) -> TargetDisk | None:
        return next((t for t in self.targets if t.path == path), None)

    def target_of(self, disk: Disk) -> TargetDisk | None:
        """The chosen target of disk, None when it is left out."""
        return self.target(self.chosen.get(disk.name))

    def policy(self, name: str) -> ResizePolicy:
        return self.policies.get(name, ResizePolicy())

    def set_policy(self, name: str, policy: ResizePolicy) -> None:
        self.policies[name] = policy
        self._fits = {key: found for key, found in self._fits.items() if key[0] != name}

    def set_targets(self, targets: Sequence[TargetDisk]) -> list[str]:
        """This machine's disks read again; returns the original disks whose target is gone
        (they are no longer mapped)."""
        self.targets = list(targets)
        self._fits.clear()
        gone = [name for name, path in self.chosen.items() if self.target(path) is None]
        for name in gone:
            del self.chosen[name]
        return gone

    # ---- sizes and the suggestion ----

    def minimum_size(self, disk: Disk) -> int:
        """The smallest target disk fits on under its policy (minimum_target_size_for)."""
        return minimum_target_size_for(self.backup_set, disk, self.policies.get(disk.name))

    def suggested(self) -> DiskMapping:
        """The suggested mapping (same drive, same size and name, same size, smallest that
        fits), every target as mapping.suggest_mapping takes it."""
        return suggest_mapping(self.backup_set.disks, self.targets, self.minimum_size)

    def apply_suggestion(self) -> None:
        """Chooses the suggested target of each disk where it takes the disk here (the screens:
        the layout must fit; when comparing, only reading counts)."""

        def minimum(disk: Disk) -> int:
            # A layout the resize cannot lay out at all is still suggested a disk of its size.
            try:
                return self.minimum_size(disk)
            except RestoreError:
                return disk.size

        suggested = suggest_mapping(self.backup_set.disks, self.targets, minimum)
        for name, path in suggested.chosen().items():
            if self.fit(self.backup_set.disk(name), self.target(path)).ok:
                self.chosen[name] = path
                self.reasons[name] = suggested.reasons.get(name, "")

    def checked(self, given: Mapping[str, str | None]) -> DiskMapping:
        """An operator's mapping (original disk name -> target, None to leave it out) checked
        against this machine's targets and the minimum sizes (mapping.validate_mapping)."""
        return validate_mapping(self.backup_set.disks, self.targets, given, self.minimum_size)

    def take(self, mapping: DiskMapping) -> None:
        """The choice of a suggested or checked mapping, with its reasons."""
        self.chosen = mapping.chosen()
        self.reasons = dict(mapping.reasons)

    # ---- what stands against a target ----

    def fit(self, disk: Disk, target: TargetDisk) -> Fit:
        """What it takes to put disk onto target (restoring, or comparing)."""
        key = (disk.name, target.path)
        if key not in self._fits:
            self._fits[key] = self._fit(disk, target)
        return self._fits[key]

    def _fit(self, disk: Disk, target: TargetDisk) -> Fit:
        unsafe = target.unsafe()
        if self.comparing:
            return Fit([p for p in unsafe if p.kind not in FINE_FOR_READING])
        try:
            resized = layout_for(disk, self.backup_set.filesystems_on(disk.name), target,
                                 self.policy(disk.name), disk_floors(self.backup_set, disk))
        except RestoreError as exc:
            # The VGA font of the Linux console has no multiplication sign.
            return Fit(unsafe + [Problem(ProblemKind.LAYOUT_DOES_NOT_FIT,
                                         exc.message.replace("×", "x"))])
        return Fit(unsafe, resized)

    def planned(self, disk: Disk) -> Fit | None:
        """disk on its chosen target; None when it is left out."""
        target = self.target_of(disk)
        return None if target is None else self.fit(disk, target)

    def taken_by(self, disk: Disk, target: TargetDisk) -> str | None:
        """The other original disk target is chosen for, None when it is free for disk."""
        return next((name for name, path in self.chosen.items()
                     if path == target.path and name != disk.name), None)

    def problems(self, disk: Disk, target: TargetDisk) -> list[Problem]:
        """Everything that stands against choosing target for disk now: fit(), and another
        disk having taken it."""
        found = list(self.fit(disk, target).problems)
        other = self.taken_by(disk, target)
        if other is not None:
            found.append(Problem(ProblemKind.TAKEN, f"chosen for {other}"))
        return found

    # ---- the operator's moves ----

    def choose(self, disk: Disk, path: str) -> None:
        self.chosen[disk.name] = path
        self.reasons[disk.name] = CHOSEN_BY_YOU

    def leave_out(self, disk: Disk) -> None:
        """Disk is not restored (its filesystems are left out)."""
        self.chosen.pop(disk.name, None)
        self.reasons.pop(disk.name, None)

    # ---- the plan ----

    def mapping(self) -> DiskMapping:
        """The chosen mapping in the set's disk order, as build_plan takes it."""
        return DiskMapping(mapping={d.name: self.chosen.get(d.name) for d in self.backup_set.disks},
                           reasons={**self.reasons,
                                    **{name: self.reasons.get(name, CHOSEN_BY_YOU)
                                       for name in self.chosen}})

    def plan(self) -> Plan:
        """The plan of restoring the chosen disks (plan.build_plan)."""
        return build_plan(self.backup_set, self.mapping(), self.targets,
                          {d.name: self.policy(d.name) for d in self.backup_set.disks},
                          self.finalize, self.volume_policies)


def make_plan(set_path: str, given: dict[str, str | None] | None,
              policies: dict[str, ResizePolicy] | None = None,
              default: ResizePolicy | None = None,
              finalize: FinalizeOptions | None = None,
              volume_policies: dict[str, VolumePolicy] | None = None) -> Plan:
    """The plan for the set at set_path: the operator's mapping (given) checked, or, when
    given is None, the suggested one; targets are this machine's disks and the image files
    the mapping names. `policies` are per original disk (a name the set lacks is refused);
    the other disks get `default`. What the operator named wrong (a disk the set lacks, a
    partition a disk lacks) is refused as a UsageError before anything is looked at."""
    backup_set = load_set(set_path)
    for name in given or {}:
        backup_set.disk(name)
    for name, policy in (policies or {}).items():
        check_overrides(backup_set.disk(name), policy)
    policies = {disk.name: (policies or {}).get(disk.name, default or ResizePolicy())
                for disk in backup_set.disks}
    for target in (given or {}).values():
        if target:
            check_leftovers(target)  # refused with the commands that clean up, not just "in use"
    images = [t for t in (given or {}).values() if t and os.path.isfile(t)]
    choices = TargetChoices(backup_set, discover_targets(set_path, images), policies)
    choices.finalize = finalize or FinalizeOptions()
    choices.volume_policies = check_volume_policies(backup_set, volume_policies or {})
    if given is None:
        choices.take(choices.suggested())
    else:
        mapping = choices.checked(given)
        require_valid(mapping)
        choices.take(mapping)
    return choices.plan()


def certain_plan(set_path: str, images: Sequence[str] = (),
                 finalize: FinalizeOptions | None = None,
              volume_policies: dict[str, VolumePolicy] | None = None) -> Plan:
    """Nuke mode's plan: the suggested mapping onto this machine's disks (and the image files
    named), refused in words when it is not certain (mapping.uncertain) - nothing is guessed."""
    backup_set = load_set(set_path)
    for image in images:
        check_leftovers(image)
    choices = TargetChoices(backup_set, discover_targets(set_path, list(images)))
    choices.finalize = finalize or FinalizeOptions()
    suggestion = choices.suggested()
    doubts = uncertain(backup_set.disks, choices.targets, suggestion, choices.minimum_size)
    if doubts:
        raise RestoreError("Nuke mode does not guess, and the targets are not certain: "
                           + "; ".join(doubts) + ". Nothing was written.",
                           "Give a plan (--plan FILE, made with 'restore-console plan ... "
                           "--save FILE') that names the targets.")
    choices.take(suggestion)
    return choices.plan()
