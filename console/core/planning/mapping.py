"""Disk mapping: which disk of this machine each original disk of a set is restored onto.

A suggestion takes, for each original disk, in this order of preference: the disk with the same
serial number or WWN (the same drive, whatever it is called now); a disk of the same size and
the same name; a disk of the same size; the smallest disk that fits. It never suggests a disk
that is unsafe (TargetDisk.problems()) or too small even for the data, and uses each target at
most once. An original disk with no fitting target is left unmapped: its filesystems are not
restored.

A mapping given by the operator is checked with the same rules, and every refusal is said in
words. Targets are identities, not positions: a swap (sda->sdb, sdb->sda) is two independent
assignments.

"Fits" means at least the minimum size of the original disk's layout, which the resize
computes (choices.minimum_target_size_for); it is passed in (a dict by source disk name, or a
callable), so the mapping does not depend on how it is computed. Without it, the original disk's
size is the minimum.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..disks.discovery import TargetDisk, normalize_serial, normalize_wwn
from ..disks.problems import Problem, ProblemKind
from ..errors import RestoreError
from ..layout import Disk
from ..units import exact_size, size

MinimumSizes = Mapping[str, int] | Callable[[Disk], int] | None


@dataclass
class DiskMapping:
    """Source disk name -> target path (None: left unmapped), and why, per source disk."""

    mapping: dict[str, str | None] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)  # "same serial", "left unmapped ..."
    refused: dict[str, list[str]] = field(default_factory=dict)  # a checked mapping's errors

    @property
    def unmapped(self) -> list[str]:
        return [src for src, target in self.mapping.items() if target is None]

    @property
    def ok(self) -> bool:
        return not self.refused

    def chosen(self) -> dict[str, str]:
        """Only the mapped disks: what a restore is given."""
        return {src: target for src, target in self.mapping.items() if target is not None}

    def to_json(self) -> dict:
        return {"mapping": dict(self.mapping), "reasons": dict(self.reasons),
                "refused": {k: list(v) for k, v in self.refused.items()},
                "unmapped": self.unmapped}


def minimum_size(disk: Disk, minimum_sizes: MinimumSizes) -> int:
    if minimum_sizes is None:
        return disk.size
    if callable(minimum_sizes):
        return minimum_sizes(disk)
    return minimum_sizes.get(disk.name, disk.size)


def _same_drive(disk: Disk, target: TargetDisk) -> str:
    """"same serial (...)", "same WWN (...)", or "" when nothing says they are one drive."""
    if disk.serial and target.serial and normalize_serial(disk.serial) == normalize_serial(
            target.serial):
        return f"same serial ({target.serial})"
    if disk.wwn and target.wwn and normalize_wwn(disk.wwn) == normalize_wwn(target.wwn):
        return f"same WWN ({target.wwn})"
    return ""


def _same_name(disk: Disk, target: TargetDisk) -> bool:
    return disk.name in (target.path, target.name) or os.path.basename(disk.name) == target.name


def _sizes(needed: int, has: int) -> tuple[str, str]:
    """Both sizes in words, with bytes where the words alone would look equal."""
    if size(needed) == size(has):
        return exact_size(needed), exact_size(has)
    return size(needed), size(has)


def too_small(disk: Disk, target: TargetDisk, needed: int) -> Problem | None:
    """Why target cannot take disk; None when it is large enough."""
    if target.size >= needed:
        return None
    needed_words, has_words = _sizes(needed, target.size)
    return Problem(ProblemKind.TOO_SMALL,
                   f"{target.name} is too small for {disk.name}: it has {has_words}, "
                   f"the data of {disk.name} needs at least {needed_words}")


def suggest_mapping(disks: Sequence[Disk], targets: Sequence[TargetDisk],
                    minimum_sizes: MinimumSizes = None) -> DiskMapping:
    """A target for each original disk, with the reason it was chosen (see module doc)."""
    needed = {d.name: minimum_size(d, minimum_sizes) for d in disks}
    usable = [t for t in targets if not t.problems()]
    free = list(usable)
    result = DiskMapping(mapping={d.name: None for d in disks})

    def fits(disk: Disk, target: TargetDisk) -> bool:
        return target in free and target.size >= needed[disk.name]

    def take(disk: Disk, target: TargetDisk, reason: str) -> None:
        result.mapping[disk.name] = target.path
        result.reasons[disk.name] = reason
        free.remove(target)

    # Each rule is applied to every disk before the next rule, so that a weaker match of one
    # disk never takes the drive another disk was on.
    rules: list[Callable[[Disk, TargetDisk], str]] = [
        _same_drive,
        lambda d, t: f"same size ({size(d.size)}) and name" if (
            t.size == d.size and _same_name(d, t)) else "",
        lambda d, t: f"same size ({size(d.size)})" if t.size == d.size else "",
    ]
    for rule in rules:
        for disk in disks:
            if result.mapping[disk.name] is not None:
                continue
            for target in free:
                reason = rule(disk, target)
                if reason and fits(disk, target):
                    take(disk, target, reason)
                    break
    # The largest layouts choose first, each the smallest disk it fits on.
    for disk in sorted(disks, key=lambda d: -needed[d.name]):
        if result.mapping[disk.name] is not None:
            continue
        candidates = sorted((t for t in free if fits(disk, t)), key=lambda t: t.size)
        if candidates:
            target = candidates[0]
            needed_words, has_words = _sizes(needed[disk.name], target.size)
            take(disk, target, f"the smallest disk that fits ({has_words}; "
                               f"needs at least {needed_words})")
    for disk in disks:
        if result.mapping[disk.name] is None:
            result.reasons[disk.name] = _why_unmapped(disk, targets, usable, needed[disk.name])
    return result


def uncertain(disks: Sequence[Disk], targets: Sequence[TargetDisk], suggestion: DiskMapping,
              minimum_sizes: MinimumSizes = None) -> list[str]:
    """Why the suggestion is not certain, in words (nothing when it is), for nuke mode, which
    never guesses: a disk without a target; a target chosen by size while another safe disk of
    that size is free; the smallest disk that fits while another free one fits too. A match by
    serial, WWN, or size and name is certain."""
    usable = [t for t in targets if not t.problems()]
    chosen = {path for path in suggestion.mapping.values() if path}
    words = []
    for disk in disks:
        path = suggestion.mapping.get(disk.name)
        if path is None:
            words.append(f"{disk.name} has no target ({suggestion.reasons.get(disk.name, '')})")
            continue
        reason = suggestion.reasons.get(disk.name, "")
        if reason.startswith(("same serial", "same WWN")) or reason.endswith("and name"):
            continue
        target = next(t for t in targets if t.path == path)
        needed = minimum_size(disk, minimum_sizes)
        others = [t for t in usable if t.path not in chosen and t.size >= needed
                  and (t.size == target.size or not reason.startswith("same size"))]
        if others:
            names = ", ".join([target.path, *(t.path for t in others)])
            words.append(f"{disk.name} could go onto {names}"
                         + (f" (each of {size(target.size)})" if reason.startswith("same size")
                            else " (each fits)"))
    return words


def _why_unmapped(disk: Disk, targets: Sequence[TargetDisk], usable: list[TargetDisk],
                  needed: int) -> str:
    words = [f"left unmapped: no safe disk of at least {size(needed)} is free, "
             "so its filesystems are not restored"]
    for target in targets:
        if target not in usable:
            words.append(f"{target.name}: {', '.join(target.problems())}")
        elif target.size < needed:
            words.append(f"{target.name}: too small ({size(target.size)})")
    return "; ".join(words)


def find_target(targets: Sequence[TargetDisk], given: str) -> TargetDisk | None:
    """The target named by the operator: by path (also through symlinks such as
    /dev/disk/by-id/...), or by its bare name (sdb)."""
    real = os.path.realpath(given)
    for target in targets:
        if given == target.path or real == os.path.realpath(target.path):
            return target
    for target in targets:
        if given == target.name and not target.is_image:
            return target
    return None


def validate_mapping(disks: Sequence[Disk], targets: Sequence[TargetDisk],
                     mapping: Mapping[str, str | None],
                     minimum_sizes: MinimumSizes = None) -> DiskMapping:
    """Checks an operator's mapping (source disk name -> target, None to leave a disk out).

    Original disks the mapping does not name are left unmapped. Returns the mapping with
    targets as discovery names them (paths), and in `refused` every reason, per source disk,
    that it cannot be restored as asked."""
    by_name = {d.name: d for d in disks}
    result = DiskMapping(mapping={d.name: None for d in disks})
    users: dict[str, str] = {}  # target path -> the first source disk sent to it
    for src, given in mapping.items():
        problems: list[str] = []
        disk = by_name.get(src)
        if disk is None:
            known = ", ".join(by_name) or "none"
            problems.append(f"the set has no disk named {src} (its disks: {known})")
        if given is None:
            if disk is not None:
                result.reasons[src] = "left unmapped by choice: its filesystems are not restored"
            if problems:
                result.refused[src] = problems
            continue
        target = find_target(targets, given)
        if target is None:
            names = ", ".join(t.name for t in targets) or "none"
            problems.append(f"{given} is not a disk of this machine nor a named image file "
                            f"(disks found: {names})")
        else:
            problems += [f"{target.name} cannot be written: {p}" for p in target.problems()]
            if disk is not None:
                small = too_small(disk, target, minimum_size(disk, minimum_sizes))
                if small is not None:
                    problems.append(small.words)
            if target.path in users:
                problems.append(f"{target.name} is already the target of {users[target.path]}; "
                                "each disk can take one original disk")
            else:
                users[target.path] = src
            if disk is not None:
                result.mapping[src] = target.path
                result.reasons[src] = "chosen by you"
        if problems:
            result.refused[src] = problems
    for disk in disks:
        if disk.name not in mapping:
            result.reasons[disk.name] = "not in the mapping: left unmapped, its filesystems " \
                                        "are not restored"
    return result


def require_valid(result: DiskMapping) -> None:
    """Raises RestoreError naming every refusal of a checked mapping."""
    if result.ok:
        return
    lines = [f"{src}: {problem}" for src, problems in result.refused.items() for problem in problems]
    raise RestoreError("The disk mapping cannot be used: " + "; ".join(lines) + ".",
                       "Choose other targets, or leave a disk out of the mapping.")
