"""A disk's partition layout computed anew for a target of another size: data in, data out.

Nothing here reads or writes a disk. `resize_disk` takes the source Disk (as the manifest has it),
the set's filesystems on it and the target's size, and returns the new Disk (same numbers, kinds,
types, flags, names and PARTUUIDs; new starts and sizes) with one decision per partition that says
what happened to it and why. `minimum_target_size` is the smallest target the layout fits on.

The rules, as implemented (all sizes and offsets in bytes):

Usable area. GPT: from the first usable LBA, 2 + 16384/sector sectors (34 with 512-byte
sectors, 6 with 4096), to the disk's end minus the backup GPT, 1 + 16384/sector sectors.
msdos: from sector 1 to the disk's end, but never beyond 2^32-1 sectors (the table's 32-bit
limit, 2 TiB with 512-byte sectors: the rest of a larger disk stays unused). On msdos the first
partition (or the extended one) never starts before the original's first partition did, so the
boot area saved with the set (boot code and the gap up to the first partition, where GRUB embeds
itself) fits again. Every start is a multiple of the alignment (1 MiB, or the device's optimal
I/O size when the applier passes a larger one; it must be a multiple of the target's sector size).

Partition roles. A partition is fixed, keeping its size, when it is of one of the policy's
`fixed_kinds` (by default all of these): an EFI system partition (GPT type, msdos type 0xEF,
the esp flag, or mounted at /boot/efi or /efi), a BIOS boot partition (GPT type or the bios_grub
flag), a Microsoft reserved partition, /boot (mounted there, or the GPT XBOOTLDR type) and swap
(a swap filesystem, the GPT or msdos swap type, or the swap flag). An empty extended partition is
fixed as well. Every other partition is scalable, weighted by its original size. Overrides, per
partition number: "fixed" locks any partition at its size; "auto" makes a partition of a fixed
kind scalable (weighted by its original size); "weight" W makes it scalable with W times the
weight it would have (W × its original size: 2 grows it twice as fast as the others);
"size" sets its size (bytes, rounded up to the alignment); "percent" sets its size to that share
of the target's usable area (rounded down to the alignment); "rest" gives it all the space the
other partitions leave (at most one partition). Sizes kept from the original are rounded up to
the target's sector size when that is larger than the original's.

Floors. No partition gets less than its floor: for a filesystem saved file by file, its bytes
used times `floor_factor` (1.1), plus `min_slack` (64 MiB: room for the journal, the log and the
metadata a fresh filesystem needs beyond what statvfs counts as used), plus, for ext2/3/4, the
inode tables (inode count times inode size: mkfs recreates the original inode count), and at
least the smallest filesystem mkfs makes (xfs 300 MiB, btrfs 128 MiB). The floor never exceeds
the original size: the data fitted there. Swap holds no data: its floor is the slack alone.
A partition saved as a raw image (archive kind "raw", a byte copy) or without any filesystem
record cannot shrink: its floor is its original size. Floors are rounded up to the alignment,
and no scalable partition is smaller than one alignment unit. A size or percent override below
the floor is refused.

Proportional mode (the default). The fixed and overridden sizes are placed first; the scalable
partitions share what remains in proportion to their weights. A partition whose share would be
below its floor gets its floor, and the others share the remainder; this repeats until every
remaining share is at least its floor. Shares are whole alignment units, rounded on the running
sum so that each is within one alignment unit of its exact share; the last scalable partition
(in disk order) takes what rounding leaves, and ends at the start of the next partition or at
the end of the usable area. With a "rest" partition, the other scalable partitions keep their
size and the "rest" one takes the remaining space (weights cannot be combined with "rest").

Grow-last mode. Every partition keeps its size except the last scalable one (or the "rest"
override), which takes the remaining space, growing or shrinking down to its floor. It and the
partitions before it keep their original starts (rounded up to the alignment) when the target
leaves room for that; otherwise they are packed without the original's gaps.

Placement. Partitions keep their order by start. Those before the growing partition (the last
scalable one, or the "rest" one) are packed from the start of the usable area, each at the next
aligned offset; the original's free gaps are dropped (except in grow-last mode, see above).
Those after it are packed backwards from the end of the usable area, so a partition that ended
the original (a BIOS boot partition, swap) ends the target too. Scaled sizes are whole
alignment units, so their ends are aligned; a fixed partition keeps its exact size, and the next
partition starts at the next aligned offset. msdos: the extended partition starts aligned where
its first logical's boot record (EBR) goes and ends where its last logical ends; each logical
starts one alignment unit after the extended's start or the previous logical's aligned end, the
gap holding its EBR. The numbers of primaries and logicals are those of the original, so the
four-primary limit holds as it did there. Without any scalable partition everything is packed
from the start and the rest of the target stays free.

Refusal. When the fixed sizes, the floors and the alignment gaps do not fit, resize_disk raises
RestoreError naming the partition that does not fit, with its need, the room left for it and the
smallest target the layout fits on, each in readable units and exact bytes. minimum_target_size
finds that smallest target (whole sectors) by bisection over the same computation.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from typing import Any

from ..errors import RestoreError, UsageError
from ..layout import GPT_BIOS_BOOT, GPT_ESP, Disk, Filesystem, Partition
from ..units import exact_size, size

MiB = 1024 * 1024

GPT_MSFT_RESERVED = "E3C9E316-0B5C-4DB8-817D-F92DF00215AE"
GPT_LINUX_SWAP = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
GPT_XBOOTLDR = "BC13C2FF-59E6-4262-A352-B275FD6F7172"
GPT_ENTRY_ARRAY_BYTES = 16384  # 128 entries of 128 bytes, in each of the two GPT copies
MSDOS_LIMIT_SECTORS = 2**32 - 1
MSDOS_ESP_TYPE = 0xEF
MSDOS_SWAP_TYPE = 0x82

KIND_NAMES = {
    "esp": "EFI system partition",
    "bios_boot": "BIOS boot partition",
    "msftres": "Microsoft reserved partition",
    "boot": "/boot",
    "swap": "swap",
}
DEFAULT_FIXED_KINDS = frozenset(KIND_NAMES)
# What a partition under a stack is, by blkid's TYPE, when the set has the stack's layers.
STACK_CONTENT = {"LVM2_member": "LVM physical volume", "linux_raid_member": "md RAID member",
                 "crypto_LUKS": "LUKS container"}
# The smallest filesystem mkfs makes (xfsprogs >= 5.19 refuses below 300 MiB; btrfs-progs 6.2
# below about 109 MiB).
FS_MINIMUM = {"xfs": 300 * MiB, "btrfs": 128 * MiB}
OVERRIDE_MODES = ("auto", "fixed", "size", "percent", "weight", "rest")
MODES = ("proportional", "grow-last")


def _align_up(n: int, unit: int) -> int:
    return -(-n // unit) * unit


def _align_down(n: int, unit: int) -> int:
    return n // unit * unit


@dataclass(frozen=True)
class Override:
    """What the operator asks for one partition (see the module's rules)."""

    mode: str  # auto | fixed | size | percent | weight | rest
    value: float | int | None = None  # bytes (size), percent of the usable area, weight multiplier

    def __post_init__(self) -> None:
        if self.mode not in OVERRIDE_MODES:
            raise RestoreError(f"Unknown resize override {self.mode!r}.",
                               f"Use one of: {', '.join(OVERRIDE_MODES)}.")
        if self.mode in ("size", "weight") and not (isinstance(self.value, (int, float))
                                                   and self.value > 0):
            raise RestoreError(f"A {self.mode} override needs a value above zero, "
                               f"not {self.value!r}.")
        if self.mode == "percent" and not (isinstance(self.value, (int, float))
                                           and 0 < self.value <= 100):
            raise RestoreError(f"A percent override needs a value above 0 and at most 100, "
                               f"not {self.value!r}.")

    @classmethod
    def parse(cls, text: str) -> "Override":
        """'fixed', 'auto', 'rest', '30%', 'weight:2', or a size: '20G', '512MiB', '10GB', '4096'.

        Units without 'B' or with 'iB' are binary (G = GiB); 'KB', 'MB', 'GB', 'TB' are decimal.
        """
        spec = text.strip()
        if spec in ("auto", "fixed", "rest"):
            return cls(spec)
        try:
            if spec.endswith("%"):
                return cls("percent", float(spec[:-1]))
            if spec.startswith("weight:"):
                return cls("weight", float(spec.removeprefix("weight:")))
            return cls("size", parse_size(spec))
        except ValueError:
            raise UsageError(f"{text!r} is not a resize override.",
                             "Use fixed, auto, rest, a size (20G), a percentage (30%) or "
                             "weight:N.") from None
        except RestoreError as exc:
            raise UsageError(exc.message, exc.hint) from None


def check_overrides(disk: Disk, policy: ResizePolicy) -> None:
    """Refuses overrides that name no partition of disk, the extended partition, or more than
    one partition to take the rest: what the operator asked for is wrong (UsageError)."""
    numbers = {p.number: p for p in disk.partitions}
    for number in policy.overrides:
        if number not in numbers:
            raise UsageError(f"There is an override for partition {number}, but "
                             f"{disk.name} has no such partition.",
                             f"Its partitions are {', '.join(map(str, sorted(numbers)))}.")
        if numbers[number].kind == "extended":
            raise UsageError(f"Partition {number} of {disk.name} is the extended "
                             "partition; its size follows from its logical partitions.",
                             "Set the logical partitions instead.")
    rests = [n for n, o in policy.overrides.items() if o.mode == "rest"]
    if len(rests) > 1:
        raise UsageError(f"Partitions {', '.join(map(str, sorted(rests)))} of "
                         f"{disk.name} are all set to take the rest; only one can.")


def parse_size(text: str) -> int:
    """Bytes of '20G', '512MiB', '10GB', '1.5T' or '4096'; ValueError when it is none of them."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(i?B?)\s*", text, re.I)
    if not match:
        raise ValueError(text)
    number, prefix, suffix = match.groups()
    power = "KMGTP".find(prefix.upper()) + 1 if prefix else 0
    base = 1000 if suffix.upper() == "B" and prefix else 1024
    if suffix.lower() == "ib" and not prefix:
        raise ValueError(text)
    return int(Fraction(number) * base**power)


@dataclass
class ResizePolicy:
    mode: str = "proportional"  # proportional | grow-last
    floor_factor: float = 1.1
    min_slack: int = 64 * MiB
    alignment: int = MiB  # the applier passes max(1 MiB, the device's optimal I/O size)
    fixed_kinds: frozenset[str] = DEFAULT_FIXED_KINDS
    overrides: dict[int, Override] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "floor_factor": self.floor_factor, "min_slack": self.min_slack,
                "alignment": self.alignment, "fixed_kinds": sorted(self.fixed_kinds),
                "overrides": {str(n): asdict(o) for n, o in sorted(self.overrides.items())}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ResizePolicy":
        return cls(mode=data.get("mode", "proportional"),
                   floor_factor=data.get("floor_factor", 1.1),
                   min_slack=data.get("min_slack", 64 * MiB),
                   alignment=data.get("alignment", MiB),
                   fixed_kinds=frozenset(data.get("fixed_kinds", DEFAULT_FIXED_KINDS)),
                   overrides={int(n): Override(**o) for n, o in data.get("overrides", {}).items()})


@dataclass
class PartitionDecision:
    """What happened to one partition, for the plan and the screen."""

    number: int
    kind: str  # primary | extended | logical
    label: str  # what the partition holds, e.g. "ext4 /" or "BIOS boot partition"
    rule: str  # fixed | kept | scaled | floored | rest | overridden | container
    why: str  # in words; a floored partition's start with "kept at ..." (rule_words)
    old_start: int
    old_size: int
    new_start: int
    new_size: int
    floor: int | None = None  # the smallest size it could get, None when its size was set
    floor_why: str = ""  # how the floor came about
    used: int | None = None  # bytes used by its filesystem, when known


@dataclass
class Resized:
    disk: Disk  # the layout to write on the target
    decisions: list[PartitionDecision]
    source_size: int
    mode: str
    alignment: int
    usable_start: int
    usable_end: int

    def decision(self, number: int) -> PartitionDecision:
        return next(d for d in self.decisions if d.number == number)

    @property
    def unused(self) -> int:
        """Bytes of the usable area after the last partition."""
        ends = [p.start + p.size for p in self.disk.partitions]
        return self.usable_end - max(ends, default=self.usable_start)

    def to_json(self) -> dict[str, Any]:
        return {"disk": self.disk.to_json(), "decisions": [asdict(d) for d in self.decisions],
                "source_size": self.source_size, "mode": self.mode, "alignment": self.alignment,
                "usable_start": self.usable_start, "usable_end": self.usable_end}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Resized":
        return cls(disk=Disk.from_json(data["disk"]),
                   decisions=[PartitionDecision(**d) for d in data["decisions"]],
                   source_size=data["source_size"], mode=data["mode"],
                   alignment=data["alignment"], usable_start=data["usable_start"],
                   usable_end=data["usable_end"])


def special_kind(part: Partition, fs: Filesystem | None, table: str) -> str | None:
    """esp | bios_boot | msftres | boot | swap, or None for an ordinary partition."""
    type_uuid = part.type_uuid.upper()
    mountpoint = (fs.mountpoint.rstrip("/") or "/") if fs and fs.mountpoint else ""
    if (type_uuid == GPT_ESP or "esp" in part.flags or mountpoint in ("/boot/efi", "/efi")
            or (table == "msdos" and part.type_id == MSDOS_ESP_TYPE)):
        return "esp"
    if type_uuid == GPT_BIOS_BOOT or "bios_grub" in part.flags:
        return "bios_boot"
    if type_uuid == GPT_MSFT_RESERVED or "msftres" in part.flags:
        return "msftres"
    if mountpoint == "/boot" or type_uuid == GPT_XBOOTLDR:
        return "boot"
    if ((fs is not None and fs.type == "swap") or type_uuid == GPT_LINUX_SWAP
            or "swap" in part.flags or (table == "msdos" and part.type_id == MSDOS_SWAP_TYPE)):
        return "swap"
    return None


def partition_label(part: Partition, fs: Filesystem | None, table: str, *,
                    copied: bool = True) -> str:
    """What a partition holds, as the plan says it: "ext4 /", "vfat /boot/efi (EFI system
    partition)", "BIOS boot partition, copied as is" (no filesystem: a byte copy; without
    `copied` where the words are said beside it)."""
    kind = special_kind(part, fs, table)
    if fs is not None and not fs.type and fs.archive is None and fs.content in STACK_CONTENT:
        return STACK_CONTENT[fs.content]  # made again layer by layer, not copied
    if fs is not None and not fs.type:  # saved as a byte copy: say what it is, not "raw"
        return KIND_NAMES.get(kind or "", "no filesystem") + (", copied as is" if copied else "")
    if fs is not None:
        return fs.title + (f" ({KIND_NAMES[kind]})" if kind in ("esp", "bios_boot", "msftres")
                           else "")
    if part.kind == "extended":
        return "extended partition (empty)"
    return KIND_NAMES.get(kind or "", "unknown contents")


def data_floor(fs: Filesystem | None, original: int, floor_factor: float,
               min_slack: int) -> tuple[int, str, int | None]:
    """(floor in bytes, why, bytes used) of what holds fs and was `original` bytes, before
    alignment: the rules of the module's "Floors" (a logical volume's floor is the same)."""
    if fs is None:
        return original, "its original size: without a filesystem record it cannot shrink", None
    if fs.archive is not None and fs.archive.kind == "raw":
        return original, "its original size: a raw image (a byte copy) cannot shrink", \
            fs.bytes_used
    if fs.type == "swap":
        return min(original, min_slack), f"{size(min_slack)} of slack, swap holds no data", None
    if fs.archive is None:
        return original, "its original size: nothing is restored into it", None
    used = fs.bytes_needed
    need = math.ceil(Fraction(used) * Fraction(floor_factor)) + min_slack
    why = f"{size(used)} used × {floor_factor:g} + {size(min_slack)} slack"
    inode_tables = int(fs.mkfs.get("inode_count", 0)) * int(fs.mkfs.get("inode_size", 0))
    if fs.type.startswith("ext") and inode_tables:
        need += inode_tables
        why += f" + {size(inode_tables)} of inode tables"
    if need < FS_MINIMUM.get(fs.type, 0):
        need = FS_MINIMUM[fs.type]
        why = f"the smallest {fs.type} mkfs makes"
    if need > original:
        return original, f"its original size, less than {why}", used
    return need, why, used


@dataclass
class _Member:
    """A partition that gets a size of its own (not a non-empty extended one)."""

    part: Partition
    label: str
    role: str  # fixed | keep | share | rest | size | percent
    why: str
    size: int = 0  # fixed, keep and size: bytes on the target
    weight: Fraction = Fraction(0)
    percent: Fraction = Fraction(0)
    floor: int = 0  # bytes, aligned (share, rest, size, percent)
    floor_why: str = ""
    used: int | None = None

    @property
    def number(self) -> int:
        return self.part.number


@dataclass
class _Geometry:
    usable_start: int
    usable_end: int
    first_min: int  # no partition may start before this


class _Refused(Exception):
    """The layout does not fit one target; the public functions turn it into a RestoreError."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


@dataclass
class _Placement:
    starts: dict[int, int]
    sizes: dict[int, int]
    ext_start: int | None
    ext_end: int | None


class _Resizer:
    """One source disk under one policy; `layout(target)` is tried for any number of targets."""

    def __init__(self, disk: Disk, filesystems: list[Filesystem], policy: ResizePolicy,
                 sector: int, stacked_floors: dict[int, tuple[int, str]] | None = None):
        if policy.mode not in MODES:
            raise RestoreError(f"Unknown resize mode {policy.mode!r}.",
                               "Use proportional or grow-last.")
        if sector <= 0 or policy.alignment <= 0 or policy.alignment % sector:
            raise ValueError(f"alignment {policy.alignment} is not a multiple of the "
                             f"{sector}-byte sector")
        if policy.floor_factor < 0 or policy.min_slack < 0:
            raise ValueError("floor_factor and min_slack cannot be negative")
        if disk.table not in ("gpt", "msdos"):
            raise RestoreError(f"{disk.name} has a {disk.table!r} partition table; only msdos and "
                               "GPT layouts can be resized.")
        self.disk = disk
        self.policy = policy
        # partition number -> (floor, why) of a partition under a stack (a PV's: what its
        # group's volumes need), computed by the stack's own resize
        self.stacked_floors = stacked_floors or {}
        self.sector = sector
        self.align = policy.alignment
        self.fs_by_number = {fs.partition: fs for fs in filesystems if fs.disk == disk.name}
        self.parts = sorted(disk.partitions, key=lambda p: (p.start, p.number))
        self._check_overrides()
        self.extended = self._extended()
        self.members = [self._member(p) for p in self.parts if p is not self.extended]
        self._settle_roles()
        self.entries = self._entries()
        self.flex = next((i for i in range(len(self.entries) - 1, -1, -1)
                          if self.entries[i][0] == "part"
                          and self.entries[i][1].role in ("share", "rest")), None)

    # -- classification -------------------------------------------------------------------

    def _check_overrides(self) -> None:
        check_overrides(self.disk, self.policy)

    def _extended(self) -> Partition | None:
        extended = [p for p in self.parts if p.kind == "extended"]
        logicals = [p for p in self.parts if p.kind == "logical"]
        if self.disk.table == "gpt" and (extended or logicals):
            raise RestoreError(f"{self.disk.name} has a GPT table with extended or logical "
                               "partitions.")
        if len(extended) > 1:
            raise RestoreError(f"{self.disk.name} has more than one extended partition.")
        primaries = [p for p in self.parts if p.kind != "logical"]
        too_many = len(primaries) > 4 or any(p.number > 4 for p in primaries)
        if self.disk.table == "msdos" and too_many:
            raise RestoreError(f"{self.disk.name} has more than four primary partitions on an "
                               "msdos table.")
        if not extended:
            if logicals:
                raise RestoreError(f"{self.disk.name} has logical partitions but no extended one.")
            return None
        ext = extended[0]
        if not logicals:
            return None  # empty: handled as a fixed partition of its own
        inside = [p for p in self.parts if ext.start < p.start < ext.start + ext.size]
        if sorted(p.number for p in inside) != sorted(p.number for p in logicals):
            raise RestoreError(f"The logical partitions of {self.disk.name} do not lie inside its "
                               "extended partition.")
        return ext

    def _floor(self, part: Partition, fs: Filesystem | None) -> tuple[int, str, int | None]:
        """(floor in bytes, why, bytes used) before alignment."""
        if part.number in self.stacked_floors:
            floor, why = self.stacked_floors[part.number]
            return floor, why, None
        return data_floor(fs, part.size, self.policy.floor_factor, self.policy.min_slack)

    def _member(self, part: Partition) -> _Member:
        fs = self.fs_by_number.get(part.number)
        kind = special_kind(part, fs, self.disk.table)
        label = partition_label(part, fs, self.disk.table)
        kept = _align_up(part.size, self.sector)
        floor, floor_why, used = self._floor(part, fs)
        floor = max(self.align, _align_up(floor, self.align))
        member = _Member(part=part, label=label, role="share", why="", size=kept,
                         weight=Fraction(part.size), floor=floor, floor_why=floor_why, used=used)
        override = self.policy.overrides.get(part.number)
        if part.kind == "extended":
            member.role, member.why = "fixed", "an empty extended partition keeps its size"
        elif override is None:
            if kind in self.policy.fixed_kinds:
                member.role, member.why = "fixed", f"{KIND_NAMES[kind]}: keeps its size"
        elif override.mode == "fixed":
            member.role, member.why = "fixed", "locked at its size by an override"
        elif override.mode == "weight":
            member.weight = Fraction(part.size) * Fraction(override.value)
            member.why = f"weight {override.value:g} × its size, by an override"
        elif override.mode == "size":
            member.role, member.size = "size", _align_up(int(override.value), self.align)
            member.why = f"set to {size(member.size)} by an override"
            if member.size < member.floor:
                raise RestoreError(
                    f"Partition {part.number} of {self.disk.name} ({label}) is set to "
                    f"{exact_size(member.size)}, less than its floor of "
                    f"{exact_size(member.floor, floor_why)}.",
                    "Give it a larger size, or lower the floor factor or slack.")
        elif override.mode == "percent":
            member.role, member.percent = "percent", Fraction(override.value)
            member.why = f"set to {override.value:g}% of the usable area by an override"
        elif override.mode == "rest":
            member.role, member.why = "rest", "takes the rest, by an override"
        return member

    def _settle_roles(self) -> None:
        """grow-last and "rest": every scalable partition keeps its size but the one that grows."""
        rest = next((m for m in self.members if m.role == "rest"), None)
        if self.policy.mode == "proportional" and rest is None:
            return
        weighted = [m for m in self.members if m.role == "share"
                    and self.policy.overrides.get(m.number, Override("auto")).mode == "weight"]
        if weighted:
            why = ("in grow-last mode" if self.policy.mode == "grow-last"
                   else f"when partition {rest.number} takes the rest")
            raise RestoreError(f"Partition {weighted[0].number} of {self.disk.name} has a weight, "
                               f"but weights mean nothing {why}.",
                               "Remove the weight, or use proportional mode without a 'rest' "
                               "partition.")
        shares = [m for m in self.members if m.role == "share"]
        if rest is None and shares:
            rest = shares[-1]
            rest.role, rest.why = "rest", "the last scalable partition takes the rest (grow-last)"
        for member in shares:
            if member is not rest:
                member.role = "keep"
                member.why = ("keeps its size (grow-last mode)" if self.policy.mode == "grow-last"
                              else f"keeps its size (partition {rest.number} takes the rest)")

    def _entries(self) -> list[tuple[str, _Member | None]]:
        """The members in disk order, with markers where the extended partition begins and ends.

        _extended() has checked that the logicals are exactly the partitions inside the
        extended one, so in start order they follow it without anything in between.
        """
        by_number = {m.number: m for m in self.members}
        logicals = [p for p in self.parts if p.kind == "logical"]
        entries: list[tuple[str, _Member | None]] = []
        for part in self.parts:
            if part is self.extended:
                entries.append(("begin", None))
                continue
            entries.append(("part", by_number[part.number]))
            if self.extended is not None and part is logicals[-1]:
                entries.append(("end", None))
        return entries

    # -- geometry and placement -----------------------------------------------------------

    def geometry(self, target_size: int) -> _Geometry:
        s = self.sector
        disk_end = _align_down(target_size, s)
        if self.disk.table == "gpt":
            entry_sectors = -(-GPT_ENTRY_ARRAY_BYTES // s)
            start = (2 + entry_sectors) * s
            return _Geometry(start, disk_end - (1 + entry_sectors) * s, start)
        first_original = min((p.start for p in self.parts), default=s)
        return _Geometry(s, min(disk_end, MSDOS_LIMIT_SECTORS * s), max(s, first_original))

    def _place(self, geo: _Geometry, sizes: dict[int, int],
               keep_starts: bool) -> tuple[_Placement, int]:
        """Starts for `sizes`; the growing member (self.flex) gets what is left.

        Returns the placement and the room the growing member got (0 without one).
        """
        a = self.align
        starts: dict[int, int] = {}
        ext_start = ext_end = None
        pos = geo.usable_start
        first = True
        flex_start = None
        head = self.entries if self.flex is None else self.entries[:self.flex + 1]
        for index, (what, member) in enumerate(head):
            if what == "end":
                ext_end = pos
                continue
            start = _align_up(pos, a)
            original = self.extended.start if what == "begin" else member.part.start
            if what == "part" and member.part.kind == "logical":
                start += a  # the gap before a logical holds its boot record (EBR)
            if first:
                start = max(start, _align_up(geo.first_min, a))
                first = False
            if keep_starts:
                start = max(start, _align_up(original, a))
            if what == "begin":
                ext_start = pos = start
                continue
            starts[member.number] = start
            if index == self.flex:
                flex_start = start
                break
            pos = start + sizes[member.number]
            if pos > geo.usable_end:
                raise _Refused(f"partition {member.number} ({member.label}, "
                               f"{exact_size(sizes[member.number])}) would end at "
                               f"{exact_size(pos)}, "
                               "beyond the end of the usable area at "
                               f"{exact_size(geo.usable_end)}")
        if self.flex is None:
            return _Placement(starts, dict(sizes), ext_start, ext_end), 0
        limit = geo.usable_end
        ext_end_pending = False
        for what, member in reversed(self.entries[self.flex + 1:]):
            if what == "end":
                ext_end_pending = True
            elif what == "begin":
                ext_start = limit  # the first logical's start minus its EBR gap
            else:
                size = sizes[member.number]
                start = _align_down(limit - size, a)
                starts[member.number] = start
                if member.part.kind == "logical":
                    if ext_end_pending:
                        ext_end, ext_end_pending = start + size, False
                    limit = start - a
                else:
                    limit = start
        if ext_end_pending:  # the growing member is the last logical
            ext_end = limit
        sizes = dict(sizes)
        sizes[self.entries[self.flex][1].number] = limit - flex_start
        return _Placement(starts, sizes, ext_start, ext_end), limit - flex_start

    def _fixed_sizes(self, geo: _Geometry) -> dict[int, int]:
        sizes: dict[int, int] = {}
        usable = geo.usable_end - geo.usable_start
        for m in self.members:
            if m.role in ("fixed", "keep", "size"):
                sizes[m.number] = m.size
            elif m.role == "percent":
                size = _align_down(math.floor(usable * m.percent / 100), self.align)
                if size < m.floor:
                    raise _Refused(f"partition {m.number} ({m.label}) is set to "
                                   f"{float(m.percent):g}% of the usable area, {exact_size(size)}, "
                                   "less than its floor of "
                                   f"{exact_size(m.floor, m.floor_why)}")
                sizes[m.number] = size
            else:
                sizes[m.number] = 0  # shares and rest: placed at zero size to measure the room
        return sizes

    def _share(self, room: int) -> tuple[dict[int, int], set[int]]:
        """Splits `room` among the scalable members: (sizes, numbers held at their floor)."""
        a = self.align
        shares = [m for m in self.members if m.role in ("share", "rest")]
        pinned: set[int] = set()
        while True:
            free = room - sum(m.floor for m in shares if m.number in pinned)
            loose = [m for m in shares if m.number not in pinned]
            weight = sum(m.weight for m in loose)
            if not loose or free < 0:
                self._refuse_shares(shares, room)
            below = {m.number for m in loose if m.weight * free < m.floor * weight}
            if not below:
                break
            pinned |= below
        exact = {m.number: Fraction(m.floor) if m.number in pinned else m.weight * free / weight
                 for m in shares}
        sizes: dict[int, int] = {}
        running = Fraction(0)
        for m in shares[:-1]:
            before = math.floor(running / a)
            running += exact[m.number]
            sizes[m.number] = (math.floor(running / a) - before) * a
        sizes[shares[-1].number] = room - math.floor(running / a) * a
        return sizes, pinned

    def _refuse_shares(self, shares: list[_Member], room: int) -> None:
        named = max(shares, key=lambda m: (m.floor, -m.number))
        others = sum(m.floor for m in shares if m is not named)
        left = max(0, room - others)
        used = f", {size(named.used)} used" if named.used is not None else ""
        raise _Refused(f"partition {named.number} ({named.label}{used}) needs at least "
                       f"{exact_size(named.floor, 'floor: ' + named.floor_why)}, but only "
                       f"{exact_size(left)} remain for it after the other partitions and the "
                       "alignment")

    def layout(self, target_size: int) -> Resized:
        geo = self.geometry(target_size)
        if geo.usable_end - geo.usable_start < self.align:
            raise _Refused(f"a {self.disk.table} table leaves no usable room on "
                           f"{exact_size(target_size)}")
        if self.policy.mode == "grow-last":
            try:
                return self._layout(geo, target_size, keep_starts=True)
            except _Refused:
                pass  # the original gaps do not fit: pack the partitions instead
        return self._layout(geo, target_size, keep_starts=False)

    def _layout(self, geo: _Geometry, target_size: int, keep_starts: bool) -> Resized:
        sizes = self._fixed_sizes(geo)
        pinned: set[int] = set()
        if self.flex is not None:
            _, room = self._place(geo, sizes, keep_starts)
            shared, pinned = self._share(room)
            sizes.update(shared)
        placement, _ = self._place(geo, sizes, keep_starts)
        if self.flex is not None:
            grower = self.entries[self.flex][1].number
            assert placement.sizes[grower] == sizes[grower], "placement disagrees with the shares"
        return self._result(geo, target_size, placement, pinned)

    def _result(self, geo: _Geometry, target_size: int, placement: _Placement,
                pinned: set[int]) -> Resized:
        by_number = {m.number: m for m in self.members}
        partitions: list[Partition] = []
        decisions: list[PartitionDecision] = []
        for part in self.disk.partitions:
            if part is self.extended:
                start, size = placement.ext_start, placement.ext_end - placement.ext_start
                logicals = [p.number for p in self.parts if p.kind == "logical"]
                decisions.append(PartitionDecision(
                    part.number, part.kind, "extended partition", "container",
                    f"holds logical partitions {', '.join(map(str, logicals))}",
                    part.start, part.size, start, size))
            else:
                m = by_number[part.number]
                start, size = placement.starts[m.number], placement.sizes[m.number]
                rule, why, floor = self._rule(m, pinned)
                decisions.append(PartitionDecision(
                    part.number, part.kind, m.label, rule, why, part.start, part.size, start, size,
                    floor, m.floor_why if floor is not None else "", m.used))
            partitions.append(replace(part, start=start, size=size, flags=list(part.flags)))
        disk = replace(self.disk, size=target_size, logical_sector_size=self.sector,
                       physical_sector_size=max(self.disk.physical_sector_size, self.sector),
                       partitions=partitions)
        decisions.sort(key=lambda d: (d.old_start, d.number))
        return Resized(disk, decisions, self.disk.size, self.policy.mode, self.align,
                       geo.usable_start, geo.usable_end)

    def _floor_words(self, m: _Member) -> str:
        """Why a partition is held at its floor, the few words first: "kept at its data + 10%:
        6.2 GiB used × 1.1 + 64.0 MiB slack" (rule_words gives the part before the colon)."""
        if m.floor_why.startswith("its original size"):
            return f"kept at {m.floor_why}"
        if " used × " in m.floor_why:
            return f"kept at its data + {self.policy.floor_factor - 1:.0%}: {m.floor_why}"
        if m.floor_why.startswith("the smallest "):
            return f"kept at the {m.floor_why.split()[2]} minimum: {m.floor_why}"
        return f"kept at its smallest, {size(m.floor)}: {m.floor_why}"

    def _rule(self, m: _Member, pinned: set[int]) -> tuple[str, str, int | None]:
        if m.role in ("fixed", "keep"):
            return ("fixed" if m.role == "fixed" else "kept"), m.why, None
        if m.role in ("size", "percent"):
            return "overridden", m.why, m.floor
        if m.role == "rest":
            return "rest", m.why, m.floor
        if m.number in pinned:
            return "floored", self._floor_words(m), m.floor
        total = sum(x.weight for x in self.members if x.role == "share")
        why = f"{float(m.weight / total):.1%} of the space for scalable partitions"
        if m.number in self.policy.overrides:
            why += f" ({m.why})"
        return "scaled", why, m.floor


def resize_disk(disk: Disk, filesystems: list[Filesystem], target_size: int,
                policy: ResizePolicy | None = None, target_sector_size: int = 512,
                stacked_floors: dict[int, tuple[int, str]] | None = None) -> Resized:
    """The layout of `disk` on a target of `target_size` bytes (see the module's rules).

    `filesystems` are the set's filesystems; those of other disks are ignored. Raises
    RestoreError when the layout cannot fit, naming the partition and the numbers.
    """
    policy = policy or ResizePolicy()
    resizer = _Resizer(disk, filesystems, policy, target_sector_size, stacked_floors)
    try:
        return resizer.layout(target_size)
    except _Refused as refused:
        try:
            minimum = f" It fits on a target of at least {exact_size(_minimum(resizer))}."
        except RestoreError:
            minimum = ""
        raise RestoreError(f"The layout of {disk.name} does not fit on a target of "
                           f"{exact_size(target_size)}: {refused.detail}.{minimum}",
                           "Choose a larger target disk, or change the resize overrides or "
                           "floors.") from None


def minimum_target_size(disk: Disk, filesystems: list[Filesystem],
                        policy: ResizePolicy | None = None, target_sector_size: int = 512,
                        stacked_floors: dict[int, tuple[int, str]] | None = None) -> int:
    """The smallest target size (a whole number of sectors) the layout of `disk` fits on.

    With percent overrides a size just above it may still be refused: a percent partition grows
    in whole alignment units, and such a step can take more than the sector the target grew by.
    """
    return _minimum(_Resizer(disk, filesystems, policy or ResizePolicy(), target_sector_size,
                             stacked_floors))


def _minimum(resizer: _Resizer) -> int:
    s = resizer.sector

    def fits(sectors: int) -> bool:
        try:
            resizer.layout(sectors * s)
            return True
        except _Refused:
            return False

    high = max(1, -(-resizer.disk.size // s))
    while not fits(high):
        high *= 2
        if high * s > 2**70:
            raise RestoreError(f"The layout of {resizer.disk.name} fits on no target, "
                               "however large.",
                               "The percent overrides leave no room for the other partitions.")
    low = 0  # no table fits on zero sectors
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            high = middle
        else:
            low = middle
    return high * s


def rule_words(decision: PartitionDecision) -> str:
    """The rule in the operator's words, short: "kept at its data + 10%" for a partition held
    at its floor ("floored" is the plan's name for it), the rule's name otherwise."""
    if decision.rule == "floored":
        return decision.why.split(": ", 1)[0].split(", ", 1)[0]
    return decision.rule


def describe_resize(resized: Resized) -> list[str]:
    """Text lines for the plan and the screen: the disk, then each partition, old -> new, why."""
    disk = resized.disk
    lines = [f"{disk.name}: {size(resized.source_size)} -> {size(disk.size)} "
             f"({disk.table}, {resized.mode}, aligned to {size(resized.alignment)})"]
    label_width = max((len(d.label) for d in resized.decisions), default=0)
    for d in resized.decisions:
        prefix = "  " if d.kind == "logical" else ""
        lines.append(f"  {prefix}{d.number:>2} {d.label:<{label_width}}  "
                     f"{size(d.old_size):>10} -> {size(d.new_size):>10}  "
                     f"at {size(d.new_start):>10}  "
                     + (d.why if d.rule == "floored" else f"{d.rule}: {d.why}"))
    if resized.unused >= resized.alignment:
        lines.append(f"  {size(resized.unused)} left free at the end")
    return lines
