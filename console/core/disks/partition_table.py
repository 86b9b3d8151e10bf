"""Partition tables read and written with pyparted; identifiers pyparted lacks go through sfdisk.

libparted 3.5 (Debian 12) exposes no GPT type GUID or partition UUID, so those, and the disk
GUID or msdos signature, are read from `sfdisk --json` and written with `sfdisk --part-type`,
`--part-uuid` and `--disk-id` after pyparted has laid the partitions out.
"""

from __future__ import annotations

import json
import logging
import os
import re

import _ped
import parted

from ..errors import RestoreError
from ..layout import Disk, Partition
from ..system import output, run

TOOLS = ("sfdisk", "partx")  # run here; the rescue image carries them

log = logging.getLogger("restore_console")


def _exception_handler(kind: int, options: int, message: str) -> int:
    """libparted asks what to do; warnings that offer Ignore are ignored, the rest raise."""
    log.warning("libparted: %s", message)
    if kind in (_ped.EXCEPTION_TYPE_INFORMATION, _ped.EXCEPTION_TYPE_WARNING):
        if options & _ped.EXCEPTION_RESOLVE_IGNORE:
            return _ped.EXCEPTION_RESOLVE_IGNORE
        if options & _ped.EXCEPTION_RESOLVE_OK:
            return _ped.EXCEPTION_RESOLVE_OK
    return _ped.EXCEPTION_RESOLVE_UNHANDLED


# libparted keeps only a borrowed pointer to the handler: the module keeps the reference alive.
_HANDLER = _exception_handler
parted.register_exn_handler(_HANDLER)

_KIND = {parted.PARTITION_NORMAL: "primary", parted.PARTITION_LOGICAL: "logical",
         parted.PARTITION_EXTENDED: "extended"}
_TYPE = {v: k for k, v in _KIND.items()}


def _sfdisk_table(path: str) -> dict:
    text = output(["sfdisk", "--json", path], f"read the partition identifiers of {path}")
    return json.loads(text)["partitiontable"]


def read_table(path: str, name: str) -> Disk:
    """The partition table of a block device or image file, as the manifest records it."""
    try:
        device = parted.getDevice(path)
        pdisk = parted.newDisk(device)
    except (parted.PartedException, _ped.PartedException, parted.DiskException) as exc:
        raise RestoreError(f"{path} has no partition table that can be read ({exc}).",
                           "Only disks with an msdos or GPT partition table can be backed up.") from None
    if pdisk.type not in ("gpt", "msdos"):
        raise RestoreError(f"{path} has a '{pdisk.type}' partition table; only msdos and GPT "
                           "are supported.")
    sector = device.sectorSize
    ids = _sfdisk_table(path)
    by_start = {p["start"]: p for p in ids.get("partitions", [])}
    disk = Disk(name=name, size=device.length * sector, logical_sector_size=sector,
                physical_sector_size=device.physicalSectorSize, table=pdisk.type,
                disk_id=ids.get("id", ""))
    for part in sorted(pdisk.partitions, key=lambda p: p.number):
        entry = by_start.get(part.geometry.start, {})
        kind = _KIND.get(part.type & 0x3, "primary")
        disk.partitions.append(Partition(
            number=part.number, start=part.geometry.start * sector,
            size=part.geometry.length * sector, kind=kind,
            flags=[f for f in part.getFlagsAsString().split(", ") if f],
            name=part.name if pdisk.type == "gpt" else "",
            type_uuid=entry.get("type", "").upper() if pdisk.type == "gpt" else "",
            type_id=int(entry["type"], 16) if pdisk.type == "msdos" and "type" in entry else None,
            partuuid=entry.get("uuid", "").lower(),
        ))
    return disk


def write_table(path: str, disk: Disk) -> None:
    """Creates `disk`'s partition table on path with its geometry and identifiers.

    The caller has checked that the target is safe to write and large enough.
    """
    create_table(path, disk)
    for part in sorted(disk.partitions, key=lambda p: (p.kind == "logical", p.number)):
        create_partition(path, disk, part.number)
    set_identifiers(path, disk)


def _parted_failure(path: str, exc: Exception) -> RestoreError:
    return RestoreError(f"Could not write the partition table on {path}: {exc}.",
                        "The log has details.")


def create_table(path: str, disk: Disk) -> None:
    """A new, empty table of disk's type (msdos or gpt) on path."""
    try:
        device = parted.getDevice(path)
        if device.sectorSize != disk.logical_sector_size:
            raise RestoreError(f"{path} has {device.sectorSize}-byte sectors, the layout was "
                               f"planned for {disk.logical_sector_size}-byte sectors.",
                               "Make the plan again for this disk.")
        parted.freshDisk(device, disk.table).commit()
    except (parted.PartedException, _ped.PartedException) as exc:
        raise _parted_failure(path, exc) from None


def create_partition(path: str, disk: Disk, number: int) -> None:
    """Adds partition `number` of the layout `disk` to the table on path, at exactly its place
    (an extended partition before its logicals)."""
    part = disk.partition(number)
    sector = disk.logical_sector_size
    try:
        device = parted.getDevice(path)
        pdisk = parted.newDisk(device)
        geometry = parted.Geometry(device=device, start=part.start // sector,
                                   length=part.size // sector)
        new = parted.Partition(disk=pdisk, type=_TYPE[part.kind], geometry=geometry)
        pdisk.addPartition(new, constraint=parted.Constraint(exactGeom=geometry))
        if new.number != part.number:
            raise RestoreError(f"Partition {part.number} of {disk.name} came out as number "
                               f"{new.number} on {path}.", "Report this; the log has details.")
        for flag in part.flags:
            value = _ped.partition_flag_get_by_name(flag)
            if value and new.isFlagAvailable(value):
                new.setFlag(value)
        if part.name and disk.table == "gpt":
            new.set_name(part.name)
        pdisk.commit()
    except (parted.PartedException, _ped.PartedException) as exc:
        raise _parted_failure(path, exc) from None


def set_identifiers(path: str, disk: Disk) -> None:
    """Sets the disk id, partition types and PARTUUIDs (libparted cannot) in one sfdisk run:
    sfdisk's own dump of the table just written, with those fields replaced."""
    what = f"set the partition identifiers on {path}"
    sector = disk.logical_sector_size
    wanted = {part.start // sector: part for part in disk.partitions if part.kind != "extended"}
    lines = []
    for line in output(["sfdisk", "--dump", path], what).splitlines():
        if line.startswith("label-id:") and disk.disk_id:
            line = f"label-id: {disk.disk_id}"
        elif start := re.search(r"\bstart=\s*(\d+)", line):
            part = wanted.get(int(start.group(1)))
            if part is not None:
                line = _with_identifiers(line, disk.table, part)
        lines.append(line)
    run(["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", path], what,
        input="\n".join(lines).encode() + b"\n")
    # Tell the kernel about the table of a real disk; image files are attached afterwards.
    if not os.path.isfile(path):
        run(["partx", "-u", path], f"re-read the partition table of {path}", check=False)


def _with_identifiers(line: str, table: str, part: Partition) -> str:
    """One partition line of an sfdisk dump with the original's type (and GPT PARTUUID)."""
    fields = {"gpt": {"type": part.type_uuid, "uuid": part.partuuid},
              "msdos": {"type": f"{part.type_id:x}" if part.type_id is not None else ""}}[table]
    for key, value in fields.items():
        if not value:
            continue
        if re.search(rf"\b{key}=", line):
            line = re.sub(rf"\b{key}=[^,]*", f"{key}={value}", line)
        else:
            line += f", {key}={value}"
    return line
