"""Target discovery: the disks of this machine (and image files named by the operator) that a
backup could be restored onto, with what identifies them and what makes writing to them unsafe.

Disks are enumerated with pyudev (subsystem "block", DEVTYPE "disk"). Without a udev daemon, as
in a rescue initrd, pyudev still enumerates from sysfs but the ID_* properties (ID_SERIAL_SHORT,
ID_MODEL, ID_WWN, ID_BUS) are missing: every one of them falls back to the sysfs attributes, and
every attribute is optional. Left out: ram, zram, free loop devices, optical drives (sr), dm and
md devices (they are built on disks), hidden nvme multipath paths, and empty drives (size 0).
A loop device with a backing file is listed, named with its file, except when that file is
named as an image target: the image then stands for its loop devices.

What happens on the disks is read through a sysblock.Host; tests point it at a fake sysfs tree
and pass the udev records (sysfs path and properties) they want pyudev to have found.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import pyudev

from ..errors import RestoreError, UsageError
from ..units import size
from .problems import Problem, ProblemKind
from .safety import Usage, usage_of
from .sysblock import Host

MiB = 1024 * 1024
# An optimal I/O size whose alignment unit would be larger than this is a bogus value (some USB
# bridges report 32 MiB - 512): 1 MiB alignment is used instead.
MAX_ALIGNMENT = 64 * MiB

_SKIPPED_PREFIXES = ("ram", "zram", "sr", "dm-", "md")


@dataclass
class TargetDisk:
    path: str  # /dev/sdb, or the image file's absolute path
    name: str  # sdb, nvme0n1, loop3, or the image file's name
    size: int  # bytes
    logical_sector_size: int
    physical_sector_size: int
    alignment: int  # bytes a partition start should be a multiple of: 1 MiB or more
    model: str = ""
    serial: str = ""
    wwn: str = ""
    removable: bool = False
    read_only: bool = False
    rotational: bool | None = None
    transport: str = ""  # ata, usb, nvme, scsi, virtio, mmc, loop, file ...
    is_image: bool = False
    backing_file: str = ""  # a loop device's file
    optimal_io_size: int = 0  # as the kernel reports it, 0 when not set
    alignment_offset: int = 0  # bytes by which the device's natural alignment is offset
    sys_path: str = ""  # the sysfs directory (a disk's), "" for an image file
    mounted: list[str] = field(default_factory=list)  # "/dev/sdb1 is mounted at /mnt", swap
    holders: list[str] = field(default_factory=list)  # "sdb2 is held by dm-0 (vg-root)"
    holds_media: bool = False  # the backup set being restored is on it
    holds_system: bool = False  # the running system's / is on it

    def unsafe(self) -> list[Problem]:
        """Why writing here is unsafe, each with its kind; empty means it is safe."""
        found = []
        if self.holds_media:
            found.append(Problem(ProblemKind.HOLDS_SET, "holds the backup set being restored"))
        if self.holds_system:
            found.append(Problem(ProblemKind.HOLDS_SYSTEM, "holds the running system"))
        found += [Problem(ProblemKind.IN_USE, f"in use: {what}")
                  for what in self.mounted + self.holders]
        if self.read_only:
            found.append(Problem(ProblemKind.READ_ONLY, "read-only"))
        return found

    def problems(self) -> list[str]:
        """Why writing here is unsafe, in words (unsafe() has their kinds); empty means safe."""
        return [problem.words for problem in self.unsafe()]

    def title(self) -> str:
        """sdb: 465.8 GiB ST500DM002 (serial Z3T5ABCD); loop3: 512.0 MiB loop device of /x.img"""
        words = [f"{self.name}:", size(self.size)]
        if self.is_image:
            words.append(f"image file {self.path}")
        elif self.backing_file:
            words.append(f"loop device of {self.backing_file}")
        if self.model:
            words.append(self.model)
        if self.serial:
            words.append(f"(serial {self.serial})")
        return " ".join(words)

    def to_json(self) -> dict:
        return {**asdict(self), "problems": self.problems()}


def normalize_wwn(wwn: str) -> str:
    """One spelling for a WWN: udev says 0x5000c500..., sysfs naa.5000c500..."""
    wwn = wwn.strip().lower()
    for prefix in ("0x", "naa.", "eui.", "wwn-"):
        if wwn.startswith(prefix):
            return wwn[len(prefix):]
    return wwn


def normalize_serial(serial: str) -> str:
    return " ".join(serial.split()).strip("_").casefold()


def alignment_for(optimal_io_size: int, physical_sector_size: int) -> int:
    """max(1 MiB, optimal I/O size), as a common multiple of both where they differ (RAID
    stripes of 768 KiB); a bogus optimal I/O size (not whole sectors, huge) is ignored."""
    if optimal_io_size <= 0 or optimal_io_size % max(physical_sector_size, 512):
        return MiB
    unit = math.lcm(MiB, optimal_io_size)
    return unit if unit <= MAX_ALIGNMENT else MiB


@dataclass(frozen=True)
class BlockRecord:
    """What pyudev reports for one disk: its sysfs directory and its udev properties."""

    sys_path: str
    properties: Mapping[str, str] = field(default_factory=dict)


def udev_disks(context=None) -> list[BlockRecord]:
    """Every block disk pyudev enumerates, with its properties (few without udevd)."""
    context = context or pyudev.Context()
    return [BlockRecord(device.sys_path, dict(device.properties))
            for device in context.list_devices(subsystem="block", DEVTYPE="disk")]


def sysfs_disks(host: Host) -> list[BlockRecord]:
    """The disks of a sysfs tree, without properties: what a fake tree's enumeration gives."""
    block = os.path.join(host.sys_root, "block")
    names = sorted(os.listdir(block)) if os.path.isdir(block) else []
    return [BlockRecord(os.path.join(block, name)) for name in names]


def _decode_udev(value: str) -> str:
    """ID_MODEL_ENC writes spaces and other bytes as \\x20."""
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), value)


def _clean(value: str | None) -> str:
    return " ".join(value.split()) if value else ""


def _vpd_serial(raw: bytes | None) -> str:
    """The unit serial number VPD page (0x80): a 4-byte header, then the serial in ASCII."""
    if not raw or len(raw) < 4 or raw[1] != 0x80:
        return ""
    length = int.from_bytes(raw[2:4], "big")
    return _clean(raw[4:4 + length].decode("ascii", errors="replace"))


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def _transport(host: Host, sysdir: str, name: str, props: Mapping[str, str]) -> str:
    if props.get("ID_BUS"):
        return props["ID_BUS"]
    real = os.path.realpath(sysdir)
    if "/usb" in real:
        return "usb"
    for prefix, transport in (("nvme", "nvme"), ("loop", "loop"), ("mmcblk", "mmc")):
        if name.startswith(prefix):
            return transport
    if re.search(r"/ata\d+/", real):
        return "ata"
    subsystem = os.path.join(sysdir, "device", "subsystem")
    return os.path.basename(os.path.realpath(subsystem)) if os.path.exists(subsystem) else ""


def _identity(host: Host, sysdir: str, props: Mapping[str, str]) -> tuple[str, str, str]:
    """(model, serial, WWN): udev's where it has them, sysfs otherwise."""
    model = (_clean(_decode_udev(props.get("ID_MODEL_ENC", "")))
             or _clean(props.get("ID_MODEL", "").replace("_", " "))
             or _clean(host.attribute(sysdir, "device/model")))
    serial = (_clean(props.get("ID_SERIAL_SHORT"))
              or _clean(host.attribute(sysdir, "device/serial"))  # nvme, mmc
              or _clean(host.attribute(sysdir, "serial"))  # virtio
              or _vpd_serial(host.raw_attribute(sysdir, "device/vpd_pg80")))  # scsi, ata
    wwn = (_clean(props.get("ID_WWN_WITH_EXTENSION")) or _clean(props.get("ID_WWN"))
           or _clean(host.attribute(sysdir, "wwid"))  # nvme
           or _clean(host.attribute(sysdir, "device/wwid")))  # scsi, ata
    if wwn.startswith("t10."):  # a vendor/model/serial string, not a world wide name
        wwn = ""
    return model, serial, wwn


def _listed(host: Host, sysdir: str, name: str) -> bool:
    if name.startswith(_SKIPPED_PREFIXES) or host.attribute(sysdir, "hidden") == "1":
        return False
    if name.startswith("loop") and not host.backing_file(sysdir):
        return False
    return _int(host.attribute(sysdir, "size")) > 0


def _apply_usage(disk: TargetDisk, usage: Usage) -> TargetDisk:
    disk.mounted = [u.what for u in usage.in_use if u.kind in ("mount", "swap")]
    disk.holders = [u.what for u in usage.in_use if u.kind == "holder"]
    disk.holds_media = usage.holds_media
    disk.holds_system = usage.holds_system
    disk.read_only = disk.read_only or usage.read_only
    return disk


def read_disk(record: BlockRecord, host: Host, set_path: str | None) -> TargetDisk | None:
    """The target a udev record describes; None for devices that are not restore targets."""
    sysdir = os.path.realpath(record.sys_path)
    props = record.properties
    name = os.path.basename(sysdir)
    if not _listed(host, sysdir, name):
        return None
    devname = props.get("DEVNAME") or name
    logical = _int(host.attribute(sysdir, "queue/logical_block_size"), 512)
    physical = _int(host.attribute(sysdir, "queue/physical_block_size"), logical)
    optimal = _int(host.attribute(sysdir, "queue/optimal_io_size"))
    rotational = host.attribute(sysdir, "queue/rotational")
    model, serial, wwn = _identity(host, sysdir, props)
    disk = TargetDisk(
        path=devname if devname.startswith("/") else f"/dev/{devname}",
        name=name,
        size=_int(host.attribute(sysdir, "size")) * 512,  # sysfs counts 512-byte units, always
        logical_sector_size=logical,
        physical_sector_size=physical,
        alignment=alignment_for(optimal, physical),
        model=model, serial=serial, wwn=wwn,
        removable=host.attribute(sysdir, "removable") == "1",
        read_only=host.attribute(sysdir, "ro") == "1",
        rotational=None if rotational not in ("0", "1") else rotational == "1",
        transport=_transport(host, sysdir, name, props),
        backing_file=host.backing_file(sysdir) or "",
        optimal_io_size=optimal,
        alignment_offset=_int(host.attribute(sysdir, "alignment_offset")),
        sys_path=sysdir,
    )
    return _apply_usage(disk, usage_of(host.same_storage(sysdir), set_path, host))


def image_target(path: str, set_path: str | None, host: Host = Host()) -> TargetDisk:
    """A disk-image file named as a target; in use through the loop devices attached to it."""
    if not os.path.exists(path):
        raise UsageError(f"The image file {path} does not exist.",
                         "Name an existing disk-image file (create one with truncate -s SIZE).")
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise RestoreError(f"{path} is neither a disk nor a disk-image file.")
    real = os.path.realpath(path)
    disk = TargetDisk(path=real, name=os.path.basename(real), size=st.st_size,
                      logical_sector_size=512, physical_sector_size=512, alignment=MiB,
                      read_only=not os.access(real, os.W_OK), transport="file", is_image=True)
    loops = set(host.loops_backed_by(real))
    return _apply_usage(disk, usage_of(loops, set_path, host, image=real))


def discover_targets(set_path: str | None, images: Sequence[str] = (), *,
                     host: Host | None = None,
                     records: Iterable[BlockRecord] | None = None) -> list[TargetDisk]:
    """The disks of this machine and the named image files, each with what makes it unsafe.

    set_path is the backup set's directory (None when no set is chosen yet). An entry of
    `images` that is a block device must be a whole disk; it is listed once. Without `records`,
    the disks come from pyudev on the real system, or from the tree of a non-default host."""
    host = host or Host()
    if records is None:
        records = udev_disks() if host == Host() else sysfs_disks(host)
    named: list[TargetDisk] = []
    for image in images:
        if not os.path.exists(image) or not stat.S_ISBLK(os.stat(image).st_mode):
            named.append(image_target(image, set_path, host))
    named_files = {t.path for t in named}
    disks = []
    for record in records:
        disk = read_disk(record, host, set_path)
        if disk is None or _backs_one_of(disk, named_files):
            continue
        disks.append(disk)
    _check_named_devices(images, disks, host)
    return sorted(disks, key=lambda d: _natural_key(d.name)) + named


def describe_device(path: str) -> TargetDisk | None:
    """What discovery knows of the whole disk at path (model, serial, WWN ...), or None."""
    real = os.path.realpath(path)
    for disk in discover_targets(None):
        if os.path.realpath(disk.path) == real:
            return disk
    return None


def _backs_one_of(disk: TargetDisk, files: set[str]) -> bool:
    if not disk.backing_file:
        return False
    return os.path.realpath(disk.backing_file.removesuffix(" (deleted)")) in files


def _check_named_devices(images: Sequence[str], disks: list[TargetDisk], host: Host) -> None:
    listed = {d.sys_path for d in disks}
    for image in images:
        if not os.path.exists(image) or not stat.S_ISBLK(os.stat(image).st_mode):
            continue
        sysdir = host.sysdir_of_node(image)
        if sysdir and host.whole_disk(sysdir) != sysdir:
            raise RestoreError(f"{image} is a partition; a target is a whole disk.",
                               f"Name the disk it is on ({os.path.basename(host.whole_disk(sysdir))}).")
        if sysdir not in listed:
            raise RestoreError(f"{image} is not a disk that can be restored onto.",
                               "Name a disk (such as /dev/sdb) or a disk-image file.")


def _natural_key(name: str) -> list:
    """sda < sdb < sdaa, nvme0n1 < nvme0n10, loop2 < loop10."""
    return [(int(part) if part.isdigit() else part) for part in re.split(r"(\d+)", name)]


def block_monitor(context=None):
    """A started pyudev Monitor that reports disks coming and going (subsystem block, disk).

    For the TUI's hot-plug: poll it, or wrap it in pyudev.MonitorObserver, and run
    discover_targets again on each event (the event's own properties may lack ID_*). With a
    udev daemon running it listens to udev's events (sent after udev has probed the disk);
    without one, as in a rescue initrd, to the kernel's own uevents (root only)."""
    context = context or pyudev.Context()
    source = "udev" if os.path.exists("/run/udev/control") else "kernel"
    monitor = pyudev.Monitor.from_netlink(context, source=source)
    monitor.filter_by("block", device_type="disk")
    monitor.start()
    return monitor
