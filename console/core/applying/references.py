"""Rewriting the restored system's references to its disks: pure functions on file texts.

A device path (/dev/sda2, /dev/vda1) names a disk by the order the kernel found it in, which
changes with the controller and the other disks: it becomes UUID=. A UUID that changed (the
filesystem was made anew with another) is replaced by the new one. LABEL=, PARTUUID= and
PARTLABEL= stay as they are: the restore keeps labels and partition UUIDs. Only the reference
itself changes: comments, spacing and every other field of a line are kept byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..disks.fstab import disk_of_partition_path, partition_path

# The files rewritten, and how: a table whose Nth field is a device reference, or text holding
# kernel arguments and grub commands (root=..., resume=..., search --fs-uuid ...).
FSTAB = "/etc/fstab"
CRYPTTAB = "/etc/crypttab"
KERNEL_ARGUMENT_FILES = ("/etc/default/grub", "/boot/grub/grub.cfg", "/etc/kernel/cmdline",
                         "/etc/initramfs-tools/conf.d/resume")
TABLE_FIELD = {FSTAB: 0, CRYPTTAB: 1}

_BY = {"/dev/disk/by-uuid/": "UUID", "/dev/disk/by-label/": "LABEL",
       "/dev/disk/by-partuuid/": "PARTUUID", "/dev/disk/by-partlabel/": "PARTLABEL"}
_KEYS = ("UUID", "LABEL", "PARTUUID", "PARTLABEL")
# Kernel arguments that name a device (and initramfs-tools' RESUME=).
_DEVICE_ARGUMENT = re.compile(r"(?<![\w.-])(root|resume|RESUME)=(/dev/[^\s\"';]+)")
# Options that make an fstab entry harmless when its device is absent, or no device at all.
_NOT_NEEDED = {"nofail", "noauto", "bind", "rbind"}


@dataclass(frozen=True)
class Change:
    """One reference rewritten: where, and what it was and became."""

    file: str  # its path in the restored system
    line: int  # 1-based
    before: str
    after: str

    @property
    def words(self) -> str:
        return f"{self.file} line {self.line}: {self.before} -> {self.after}"


@dataclass
class References:
    """What the references of the restored system become."""

    devices: dict[str, str] = field(default_factory=dict)  # device path -> its new UUID
    uuids: dict[str, str] = field(default_factory=dict)  # old UUID (lower case) -> new UUID

    def new_spec(self, spec: str) -> str | None:
        """What an fstab or crypttab device field becomes; None when it stays."""
        if spec in self.devices:
            return f"UUID={self.devices[spec]}"
        kind, value = spec_parts(spec)
        new = self.uuids.get(value.lower()) if kind == "UUID" else None
        if new is None:
            return None
        if spec.startswith("/dev/disk/by-uuid/"):
            return f"/dev/disk/by-uuid/{new}"
        quote = '"' if spec.partition("=")[2].startswith('"') else ""
        return f"{spec.partition('=')[0]}={quote}{new}{quote}"


def spec_parts(spec: str) -> tuple[str, str]:
    """(UUID | LABEL | PARTUUID | PARTLABEL | DEVICE | OTHER, the value): UUID=x and
    /dev/disk/by-uuid/x are both ("UUID", "x"); /dev/sda2 is ("DEVICE", "/dev/sda2")."""
    for prefix, kind in _BY.items():
        if spec.startswith(prefix):
            return kind, spec[len(prefix):]
    key, sep, value = spec.partition("=")
    if sep and key.upper() in _KEYS:
        return key.upper(), value.strip('"')
    if spec.startswith("/dev/"):
        return "DEVICE", spec
    return "OTHER", spec


def _fields(line: str) -> list[str]:
    """The line split into fields and the spacing between them, so that joining gives it back."""
    return re.split(r"(\s+)", line)


def _field_positions(parts: list[str]) -> list[int]:
    return [i for i, part in enumerate(parts) if part and not part.isspace()]


def rewrite_table(text: str, path: str, refs: References) -> tuple[str, list[Change]]:
    """fstab or crypttab (path says which) with its device field rewritten; comments, spacing,
    other fields and bind mounts stay as they were."""
    index = TABLE_FIELD[path]
    lines = text.splitlines(keepends=True)
    changes: list[Change] = []
    for number, line in enumerate(lines, start=1):
        body = line.rstrip("\r\n")
        if body.lstrip().startswith("#"):
            continue
        parts = _fields(body)
        positions = _field_positions(parts)
        if len(positions) <= index:
            continue
        if path == FSTAB and len(positions) > 3 and \
                {"bind", "rbind"} & set(parts[positions[3]].split(",")):
            continue
        spec = parts[positions[index]]
        new = refs.new_spec(spec)
        if new is None or new == spec:
            continue
        parts[positions[index]] = new
        lines[number - 1] = "".join(parts) + line[len(body):]
        changes.append(Change(path, number, spec, new))
    return "".join(lines), changes


def rewrite_kernel_arguments(text: str, path: str, refs: References) -> tuple[str, list[Change]]:
    """grub's configuration, /etc/default/grub or a kernel command line: root=/dev/sda2 (and
    resume=) becomes root=UUID=..., and every changed UUID is replaced wherever it stands
    (search --fs-uuid, root=UUID=, --hint)."""
    lines = text.splitlines(keepends=True)
    changes: list[Change] = []
    for number, line in enumerate(lines, start=1):
        new_line = line

        def device(match: re.Match) -> str:
            uuid = refs.devices.get(match[2])
            if uuid is None:
                return match[0]
            after = f"{match[1]}=UUID={uuid}"
            changes.append(Change(path, number, match[0], after))
            return after

        new_line = _DEVICE_ARGUMENT.sub(device, new_line)
        for old, new in refs.uuids.items():
            pattern = re.compile(rf"(?<![0-9A-Za-z-]){re.escape(old)}(?![0-9A-Za-z-])",
                                 re.IGNORECASE)
            if pattern.search(new_line):
                new_line = pattern.sub(new, new_line)
                changes.append(Change(path, number, old, new))
        lines[number - 1] = new_line
    return "".join(lines), changes


@dataclass(frozen=True)
class FstabEntry:
    """An fstab line as the rewriting reads it."""

    line: int
    spec: str
    mountpoint: str
    options: frozenset[str]


def fstab_entries(text: str) -> list[FstabEntry]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split("#", 1)[0].split() if not line.lstrip().startswith("#") else []
        if len(fields) >= 2:
            options = frozenset(fields[3].split(",")) if len(fields) > 3 else frozenset()
            found.append(FstabEntry(number, fields[0], fields[1], options))
    return found


def device_aliases(fstab: str, root_partition: int, partitions: dict[int, str]) -> dict[str, str]:
    """Device paths of the root's disk, as the restored fstab names them: when it names / by a
    device path (/dev/sda2 for partition 2), the disk was /dev/sda, and /dev/sda3 is its
    partition 3. `partitions`: number -> the new UUID of the filesystem on each partition of
    the root's disk. Returns device path -> new UUID."""
    for entry in fstab_entries(fstab):
        if entry.mountpoint != "/":
            continue
        disk = disk_of_partition_path(entry.spec, root_partition)
        if disk is None:
            return {}
        return {partition_path(disk, number): uuid for number, uuid in partitions.items()}
    return {}


@dataclass
class Known:
    """What the restored system's disks hold after the restore, to tell which fstab entries
    name something that is not there."""

    uuids: set[str] = field(default_factory=set)  # lower case
    labels: set[str] = field(default_factory=set)
    partuuids: set[str] = field(default_factory=set)  # lower case
    partlabels: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)

    def has(self, spec: str) -> bool:
        kind, value = spec_parts(spec)
        return {"UUID": value.lower() in self.uuids, "LABEL": value in self.labels,
                "PARTUUID": value.lower() in self.partuuids,
                "PARTLABEL": value in self.partlabels,
                "DEVICE": value in self.devices}.get(kind, True)


def missing_entries(fstab: str, known: Known) -> list[FstabEntry]:
    """The fstab entries the boot needs (not nofail, noauto or a bind mount) whose device is
    none of the restored filesystems: the restored system would wait for them at boot."""
    return [entry for entry in fstab_entries(fstab)
            if not entry.options & _NOT_NEEDED and not known.has(entry.spec)]
