"""What a restore will do, as text for the operator to review before anything is written.

Built from the set and the mapping alone; nothing is read from the targets. The plan module
(ordered steps, rendered as text) replaces this when it lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import humanize

from .backupset import BackupSet
from .layout import GPT_BIOS_BOOT, GPT_ESP, Disk, Filesystem, Partition


def _size(n: int) -> str:
    return humanize.naturalsize(n, binary=True)


@dataclass(frozen=True)
class Totals:
    """How much a restore of the mapped disks writes (bytes of the archives, files), and how
    many bytes its verification reads (what the mounted filesystems use)."""

    bytes: int
    files: int
    verify_bytes: int


def restore_totals(backup_set: BackupSet, mapping: dict[str, str]) -> Totals:
    size = files = verify_bytes = 0
    for disk in backup_set.disks:
        if disk.name in mapping and disk.boot_area is not None:
            size += disk.boot_area.uncompressed_size
    for fs in backup_set.filesystems:
        if fs.disk in mapping and fs.archive is not None:
            size += fs.archive.uncompressed_size
            files += fs.archive.members
            if fs.archive.kind == "tar" and fs.mountpoint:
                verify_bytes += fs.bytes_used
    return Totals(size, files, verify_bytes)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def when(created: str) -> str:
    """The set's creation time as a person reads it: 2026-11-23 08:55 UTC."""
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return created
    zone = moment.strftime("%Z").replace("UTC+00:00", "UTC")
    return moment.strftime("%Y-%m-%d %H:%M") + (f" {zone}" if zone else "")


def _partition_kind(part: Partition) -> str:
    if part.type_uuid.upper() == GPT_BIOS_BOOT or "bios_grub" in part.flags:
        return "BIOS boot partition"
    if part.type_uuid.upper() == GPT_ESP or "esp" in part.flags:
        return "EFI system partition"
    return f"{part.kind} partition" if part.kind != "primary" else "partition"


def _what_happens(fs: Filesystem | None) -> str:
    if fs is None:
        return "left empty (the set has no data for it)"
    ident = f"UUID {fs.uuid or '-'}, label {fs.label or '-'}"
    if fs.archive is None:
        return f"new {fs.type or 'raw'} ({ident})"
    if fs.archive.kind == "raw":
        return f"written from its image in the set ({_size(fs.archive.uncompressed_size)})"
    where = f" mounted at {fs.mountpoint}" if fs.mountpoint else ""
    return (f"new {fs.type}{where},\n        {ident};\n"
            f"        then {humanize.intcomma(fs.archive.members)} files restored "
            f"({_size(fs.archive.uncompressed_size)} of archive, {_size(fs.bytes_used)} used)")


def _disk_lines(backup_set: BackupSet, disk: Disk, target: str) -> list[str]:
    table = "GPT" if disk.table == "gpt" else "MBR (msdos)"
    lines = [f"Original disk {disk.name}",
             f"  {_size(disk.size)}, {table} partition table",
             f"  onto {target}",
             "  EVERYTHING ON IT IS OVERWRITTEN.",
             f"  1. Wipe its old signatures; write the {table} table with "
             f"{_count(len(disk.partitions), 'partition')},",
             "     with their original identifiers."]
    if disk.boot_area is not None:
        lines.append(f"     Write the boot code before the first partition "
                     f"({_size(disk.boot_area.uncompressed_size)}).")
    lines.append("  2. Each partition:")
    filesystems = {fs.partition: fs for fs in backup_set.filesystems_on(disk.name)}
    for part in sorted(disk.partitions, key=lambda p: p.number):
        lines.append(f"     {part.number}: {_size(part.size)} at {_size(part.start)}, "
                     f"{_partition_kind(part)}:")
        if part.kind == "extended":
            lines.append("        holds the logical partitions")
        else:
            lines.append(f"        {_what_happens(filesystems.get(part.number))}")
    return lines


def review_text(backup_set: BackupSet, mapping: dict[str, str],
                titles: dict[str, str] | None = None) -> str:
    """The review of restoring the set's disks onto mapping's targets (disk name -> target).

    `titles` names the targets as the operator knows them (name, size, model, serial); the
    target path is used where a title is missing.
    """
    titles = titles or {}
    lines = [f"Restore of the backup of {backup_set.host}, made {when(backup_set.created)}",
             f"Set {backup_set.set_id}", f"  in {backup_set.path}", ""]
    for disk in backup_set.disks:
        if disk.name in mapping:
            target = mapping[disk.name]
            lines += _disk_lines(backup_set, disk, titles.get(target, target))
            lines.append("")
    unmapped = [d.name for d in backup_set.disks if d.name not in mapping]
    for name in unmapped:
        lines.append(f"Not restored: original disk {name} (no target chosen).")
    if unmapped:
        lines.append("")
    totals = restore_totals(backup_set, mapping)
    lines += [f"In all: {humanize.intcomma(totals.files)} files, {_size(totals.bytes)} "
              "written from the set.",
              "Every restored file is checked against its BLAKE3 checksum as it is written;",
              "afterwards the restored system is compared with the set (verify).",
              "Nothing has been written yet."]
    return "\n".join(lines)
