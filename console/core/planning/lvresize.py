"""The logical volumes of a volume group computed anew for a group of another size.

Nothing here reads or writes a disk. `resize_group` takes the source VolumeGroup (as the
manifest has it), the set's filesystems (those in its LVs count), the number of extents the
group has on the target, and returns one decision per LV: its new size and why. It is the
partition resize's rules (resize.py) said in extents:

Units. Every size is a whole number of the group's extents (extent_size from the source).

Roles. An LV keeps its size (fixed) when it holds swap (a swap filesystem, or "swap" in its
name without any filesystem record), when it is boot-like (mounted at /boot, /boot/efi or
/efi), or when its type is not a plain linear or striped one (mirror, raid1, thin pool, thin
volume, cache...: their sub-volumes and pools are not resized here). Every other LV is scalable,
weighted by its original size. The free extents of the source group (room kept for snapshots
or later growth) scale with the LVs, as a share of their own with no floor; a group with no free
extents gets none. Per-LV overrides are the partition ones (resize.Override): "fixed", "auto" (a
fixed kind made scalable), "weight:W", a size ("20G", rounded up to whole extents), a percent of
the group's extents (rounded down), "rest" (at most one LV; the other scalable LVs keep their
size and the free share is dropped).

Space. A linear or striped LV uses its extents once; a mirror or raid1 LV twice (one copy per
leg, their small metadata sub-volumes left aside); a thin volume none (its pool holds its data).

Floors. No scalable LV gets less than its floor, computed as for a partition
(resize.data_floor: data × 1.1 + 64 MiB slack, the inode tables of ext, the smallest xfs/btrfs;
a raw image or an LV without a filesystem record keeps its original size), rounded up to whole
extents, at least one extent. A size or percent override below the floor is refused.

Sharing. Fixed and overridden LVs are placed first; the scalable LVs (and the free share) split
the rest in proportion to their weights; one whose share is below its floor gets its floor and
the others split what remains, until every share is at least its floor. Shares are whole
extents rounded on the running sum; the last scalable LV takes what rounding leaves (so a fully
allocated group stays fully allocated). When nothing is scalable the rest stays free.

Refusal. When the fixed sizes and floors do not fit, resize_group raises RestoreError naming
the LV that does not fit, its need and the room left, and the smallest group it fits in.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from ..errors import RestoreError, UsageError
from ..layout import Filesystem, LogicalVolume, VolumeGroup
from ..units import exact_size, size
from .resize import MiB, Override, data_floor

SCALABLE_TYPES = ("linear", "striped")
TWO_COPIES = ("mirror", "raid1")
NO_SPACE_TYPES = ("thin",)  # their pool holds their data
BOOT_MOUNTS = ("/boot", "/boot/efi", "/efi")
FREE = ""  # the name of the free share among the decisions


@dataclass
class VolumePolicy:
    """What the operator asks for the LVs of one group: the floor's factor and slack, and
    overrides by LV name."""

    floor_factor: float = 1.1
    min_slack: int = 64 * MiB
    overrides: dict[str, Override] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"floor_factor": self.floor_factor, "min_slack": self.min_slack,
                "overrides": {n: asdict(o) for n, o in sorted(self.overrides.items())}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "VolumePolicy":
        return cls(floor_factor=data.get("floor_factor", 1.1),
                   min_slack=data.get("min_slack", 64 * MiB),
                   overrides={n: Override(**o) for n, o in data.get("overrides", {}).items()})


@dataclass
class VolumeDecision:
    """What happened to one LV (or, with name FREE, to the group's free extents)."""

    name: str
    label: str  # "ext4 /home", "swap", "free extents"
    rule: str  # fixed | kept | scaled | floored | rest | overridden | free
    why: str
    old_size: int
    new_size: int
    floor: int | None = None
    floor_why: str = ""
    used: int | None = None


@dataclass
class GroupResized:
    group: str
    extent_size: int
    source_extents: int
    target_extents: int
    decisions: list[VolumeDecision]

    def decision(self, name: str) -> VolumeDecision:
        return next(d for d in self.decisions if d.name == name)

    @property
    def volumes(self) -> list[VolumeDecision]:
        return [d for d in self.decisions if d.name != FREE]

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "extent_size": self.extent_size,
                "source_extents": self.source_extents, "target_extents": self.target_extents,
                "decisions": [asdict(d) for d in self.decisions]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "GroupResized":
        return cls(group=data["group"], extent_size=data["extent_size"],
                   source_extents=data["source_extents"],
                   target_extents=data["target_extents"],
                   decisions=[VolumeDecision(**d) for d in data["decisions"]])


def copies(lv: LogicalVolume) -> int:
    """How many times an LV's size counts against the group's extents."""
    if lv.type in NO_SPACE_TYPES:
        return 0
    return 2 if lv.type in TWO_COPIES else 1


def volume_filesystems(group: VolumeGroup, filesystems: list[Filesystem]) -> dict[str, Filesystem]:
    """LV name -> the set's filesystem in it."""
    prefix = f"lv:{group.name}/"
    return {fs.on[len(prefix):]: fs for fs in filesystems if fs.on.startswith(prefix)}


def fixed_kind(lv: LogicalVolume, fs: Filesystem | None) -> str:
    """Why an LV keeps its size by default ("" when it is scalable)."""
    if lv.type not in SCALABLE_TYPES:
        return f"a {lv.type or 'special'} volume keeps its size"
    if (fs is not None and fs.type == "swap") or (fs is None and "swap" in lv.name):
        return "swap: keeps its size"
    if fs is not None and (fs.place.rstrip("/") or "/") in BOOT_MOUNTS:
        return f"{fs.place}: keeps its size"
    return ""


def volume_label(lv: LogicalVolume, fs: Filesystem | None) -> str:
    if fs is None:
        return f"{lv.type} volume, no filesystem record"
    return fs.title


@dataclass
class _Volume:
    name: str
    label: str
    role: str  # fixed | keep | share | rest | size | percent
    why: str
    old: int  # extents of the source
    copies: int
    weight: Fraction = Fraction(0)
    percent: Fraction = Fraction(0)
    extents: int = 0  # fixed, keep, size: on the target
    floor: int = 0  # extents
    floor_why: str = ""
    used: int | None = None


class _Refused(Exception):
    pass


class _Grouper:
    def __init__(self, group: VolumeGroup, filesystems: list[Filesystem], policy: VolumePolicy):
        if group.extent_size <= 0:
            raise RestoreError(f"Volume group {group.name} has no extent size in the set.")
        self.group, self.policy, self.e = group, policy, group.extent_size
        unknown = set(policy.overrides) - {lv.name for lv in group.lvs}
        if unknown:
            raise UsageError(f"There is an override for {', '.join(sorted(unknown))}, but "
                             f"volume group {group.name} has no such logical volume.",
                             f"Its volumes are {', '.join(lv.name for lv in group.lvs)}.")
        rests = [n for n, o in policy.overrides.items() if o.mode == "rest"]
        if len(rests) > 1:
            raise UsageError(f"Logical volumes {', '.join(sorted(rests))} of {group.name} are "
                             "all set to take the rest; only one can.")
        found = volume_filesystems(group, filesystems)
        self.volumes = [self._volume(lv, found.get(lv.name)) for lv in group.lvs]
        used = sum(v.old * v.copies for v in self.volumes)
        free = group.extents - used
        self.free = None
        rest = next((v for v in self.volumes if v.role == "rest"), None)
        if rest is not None:
            for v in self.volumes:
                if v.role == "share":
                    v.role, v.extents = "keep", v.old
                    v.why = f"keeps its size ({rest.name} takes the rest)"
        elif free > 0:
            self.free = _Volume(FREE, "free extents", "share", "the group's free extents "
                                "scale with it", free, 1, weight=Fraction(free), floor=0)

    def _extents_up(self, n: int) -> int:
        return -(-n // self.e)

    def _volume(self, lv: LogicalVolume, fs: Filesystem | None) -> _Volume:
        old = self._extents_up(lv.size)
        floor, floor_why, used = data_floor(fs, lv.size, self.policy.floor_factor,
                                            self.policy.min_slack)
        v = _Volume(lv.name, volume_label(lv, fs), "share", "", old, copies(lv),
                    weight=Fraction(old), extents=old,
                    floor=max(1, self._extents_up(floor)), floor_why=floor_why, used=used)
        kind = fixed_kind(lv, fs)
        override = self.policy.overrides.get(lv.name)
        if override is not None and override.mode != "fixed" and lv.type not in SCALABLE_TYPES:
            raise UsageError(f"{self.group.name}/{lv.name} is a {lv.type} volume: it keeps "
                             "its size and takes no override but 'fixed'.")
        if override is None:
            if kind:
                v.role, v.why = "fixed", kind
        elif override.mode == "fixed":
            v.role, v.why = "fixed", "locked at its size by an override"
        elif override.mode == "weight":
            v.weight = Fraction(old) * Fraction(override.value)
            v.why = f"weight {override.value:g} × its size, by an override"
        elif override.mode == "size":
            v.role, v.extents = "size", self._extents_up(int(override.value))
            v.why = f"set to {size(v.extents * self.e)} by an override"
            if v.extents < v.floor:
                raise RestoreError(
                    f"{self.group.name}/{lv.name} ({v.label}) is set to "
                    f"{exact_size(v.extents * self.e)}, less than its floor of "
                    f"{exact_size(v.floor * self.e, floor_why)}.",
                    "Give it a larger size, or lower the floor factor or slack.")
        elif override.mode == "percent":
            v.role, v.percent = "percent", Fraction(override.value)
            v.why = f"set to {override.value:g}% of the group by an override"
        elif override.mode == "rest":
            v.role, v.why = "rest", "takes the rest, by an override"
        return v

    def layout(self, target: int) -> GroupResized:
        placed: dict[str, int] = {}
        for v in self.volumes:
            if v.role in ("fixed", "keep", "size"):
                placed[v.name] = v.extents
            elif v.role == "percent":
                placed[v.name] = math.floor(target * v.percent / 100)
                if placed[v.name] < v.floor:
                    raise _Refused(f"{v.name} ({v.label}) is set to {float(v.percent):g}% of "
                                   f"the group, {exact_size(placed[v.name] * self.e)}, less "
                                   f"than its floor of {exact_size(v.floor * self.e, v.floor_why)}")
        room = target - sum(placed[v.name] * v.copies for v in self.volumes if v.name in placed)
        shares = [v for v in self.volumes if v.role in ("share", "rest")]
        if self.free is not None:
            shares.append(self.free)
        if room < 0:
            biggest = max((v for v in self.volumes if v.name in placed),
                          key=lambda v: placed[v.name] * v.copies)
            raise _Refused(f"{biggest.name} ({biggest.label}) keeps "
                           f"{exact_size(placed[biggest.name] * biggest.copies * self.e)}, but "
                           f"the fixed volumes alone need {exact_size((target - room) * self.e)}")
        pinned: set[str] = set()
        if shares:
            placed.update(self._share(shares, room, pinned))
        return self._result(target, placed, pinned)

    def _share(self, shares: list[_Volume], room: int, pinned: set[str]) -> dict[str, int]:
        while True:
            free = room - sum(v.floor for v in shares if v.name in pinned)
            loose = [v for v in shares if v.name not in pinned]
            weight = sum(v.weight for v in loose)
            if free < 0 or (loose and weight == 0):
                named = max(shares, key=lambda v: v.floor)
                left = max(0, room - sum(v.floor for v in shares if v is not named))
                used = f", {size(named.used)} used" if named.used is not None else ""
                raise _Refused(f"{named.name} ({named.label}{used}) needs at least "
                               f"{exact_size(named.floor * self.e, 'floor: ' + named.floor_why)}"
                               f", but only {exact_size(left * self.e)} remain for it")
            below = {v.name for v in loose if v.weight * free < v.floor * weight}
            if not below:
                break
            pinned |= below
        exact = {v.name: Fraction(v.floor) if v.name in pinned else v.weight * free / weight
                 for v in shares}
        sizes: dict[str, int] = {}
        running = Fraction(0)
        order = [v for v in shares if v is not self.free] + ([self.free] if self.free else [])
        last = order[-1] if self.free is None else (order[-2] if len(order) > 1 else order[-1])
        for v in order:
            if v is last:
                continue
            before = math.floor(running)
            running += exact[v.name]
            sizes[v.name] = math.floor(running) - before
        # the others got at most their exact shares in sum, so the last gets at least its own
        sizes[last.name] = room - sum(sizes.values())
        return sizes

    def _result(self, target: int, placed: dict[str, int], pinned: set[str]) -> GroupResized:
        total_weight = sum(v.weight for v in self.volumes if v.role == "share")
        decisions = []
        for v in self.volumes:
            new = placed[v.name]
            if v.role in ("fixed", "keep"):
                rule, why, floor = ("fixed" if v.role == "fixed" else "kept"), v.why, None
            elif v.role in ("size", "percent"):
                rule, why, floor = "overridden", v.why, v.floor
            elif v.role == "rest":
                rule, why, floor = "rest", v.why, v.floor
            elif v.name in pinned:
                rule, why, floor = "floored", f"kept at its floor: {v.floor_why}", v.floor
            else:
                rule, floor = "scaled", v.floor
                why = f"{float(v.weight / total_weight):.1%} of the space for scalable volumes"
            decisions.append(VolumeDecision(
                v.name, v.label, rule, why, v.old * self.e, new * self.e,
                floor * self.e if floor is not None else None,
                v.floor_why if floor is not None else "", v.used))
        if self.free is not None:
            new = placed.get(FREE, 0)
            decisions.append(VolumeDecision(FREE, "free extents", "free", self.free.why,
                                            self.free.old * self.e, new * self.e))
        return GroupResized(self.group.name, self.e, self.group.extents, target, decisions)


def resize_group(group: VolumeGroup, filesystems: list[Filesystem], target_extents: int,
                 policy: VolumePolicy | None = None) -> GroupResized:
    """The LVs of `group` in a group of `target_extents` extents (see the module's rules)."""
    grouper = _Grouper(group, filesystems, policy or VolumePolicy())
    try:
        return grouper.layout(target_extents)
    except _Refused as refused:
        try:
            smallest = f" It fits in a group of at least {exact_size(_minimum(grouper))}."
        except RestoreError:
            smallest = ""
        raise RestoreError(f"The logical volumes of {group.name} do not fit in "
                           f"{exact_size(target_extents * group.extent_size)}: {refused}."
                           f"{smallest}", "Choose a larger target disk, or change the volume "
                           "overrides or floors.") from None


def minimum_group_size(group: VolumeGroup, filesystems: list[Filesystem],
                       policy: VolumePolicy | None = None) -> int:
    """The smallest group (bytes, whole extents) the LVs fit in."""
    return _minimum(_Grouper(group, filesystems, policy or VolumePolicy()))


def _minimum(grouper: _Grouper) -> int:
    def fits(extents: int) -> bool:
        try:
            grouper.layout(extents)
            return True
        except _Refused:
            return False

    high = max(1, grouper.group.extents)
    while not fits(high):
        high *= 2
        if high > 2**40:
            raise RestoreError(f"The logical volumes of {grouper.group.name} fit in no group, "
                               "however large.", "The percent overrides leave no room.")
    low = 0
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            high = middle
        else:
            low = middle
    return high * grouper.e


def describe_group(resized: GroupResized) -> list[str]:
    """Text lines for the plan: the group, then each LV old -> new and why."""
    e = resized.extent_size
    lines = [f"volume group {resized.group}: {size(resized.source_extents * e)} -> "
             f"{size(resized.target_extents * e)} (extents of {size(e)})"]
    width = max((len(d.name or d.label) for d in resized.decisions), default=0)
    for d in resized.decisions:
        name = d.name or d.label
        lines.append(f"  {name:<{width}}  {d.label if d.name else '':<16} "
                     f"{size(d.old_size):>10} -> {size(d.new_size):>10}  {d.rule}: {d.why}")
    return lines
