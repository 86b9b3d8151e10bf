"""Finding backup sets on this machine's media, for the console started without --set.

Where it looks, each read-only:

- optical drives (/dev/sr*) with a disc: the volume header read from the disc as ISO 9660,
  without the kernel's iso9660 (media/isovolume.py);
- tape drives (/dev/nst*, the non-rewinding device) with a tape: the set header at the tape's
  start (after an OBDR part), the tape rewound afterwards;
- partitions and whole disks (USB sticks, local disks, loop devices with a file) that are not
  mounted: probed with blkid, mounted read-only (journals not replayed) on a directory of their
  own to look, and unmounted at once; one written with an ISO volume (dd) is read as ISO;
- mounted filesystems and NFS shares: read in place where they are mounted (never mounted a
  second time).

In each filesystem the set is looked for at its root and in the directories below it, two
levels deep: a set directory (manifest.json), or the volumes of a set as .iso images, or a
.tap image. A set on a partition that is not mounted is opened by mounting it read-only again
(`open_found`), kept mounted while the console runs.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from ..disks.blockdev import unmount
from ..disks.probe import RO_OPTIONS, probe
from ..disks.sysblock import Host
from ..errors import RestoreError
from ..media.isovolume import IsoVolume, NoVolume, is_iso
from ..media.tape import TapeError
from ..media.tapeset import TapeHeader, open_tape, read_header
from ..system import run
from ..units import size as words_size

TOOLS = ("mount",)  # blkid and umount run through disks/probe.py and disks/blockdev.py

log = logging.getLogger("restore_console")

MANIFEST = "manifest.json"
# Filesystems a set can be on, mounted read-only to look (blkid's names).
MOUNTABLE = ("ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "exfat", "ntfs", "ntfs3", "udf",
             "iso9660", "f2fs")
# Mounted filesystems read in place; the others (proc, tmpfs, cgroup ...) hold no set.
READ_IN_PLACE = MOUNTABLE + ("nfs", "nfs4", "cifs", "smb3", "fuseblk", "9p", "virtiofs")
RO_EXTRA = {"btrfs": "ro,rescue=nologreplay"}
DEPTH = 2  # directories below a filesystem's root looked into
MAX_DIRECTORIES = 400  # per filesystem: a large tree is not walked whole
_TAPE = re.compile(r"^nst\d+$")


@dataclass
class FoundSet:
    """A set found, and what it is on. `where` is what --set takes."""

    where: str
    media: str  # "CD/DVD drive /dev/sr0", "partition sdb1 (usb)", "NFS share srv:/x at /mnt"
    kind: str  # cd | tape | disk | usb | nfs | directory | image
    set_id: str
    host: str = ""
    created: str = ""
    size: int = 0  # bytes of the set's archive pieces
    volume: int = 0  # the volume in the drive or the file (0: a set directory, one volume)
    volumes: int = 0  # how many (0: not known, as on tape)
    # a partition that is not mounted: (device, filesystem type, the set's path inside it)
    device: str = ""
    fstype: str = ""
    inside: str = ""

    def words(self) -> str:
        """web1, made 2026-01-02T03:04:05+00:00, 3.1 GiB, volume 1 of 3"""
        parts = [self.host or "unknown host"]
        if self.created:
            parts.append(f"made {self.created}")
        if self.size:
            parts.append(words_size(self.size))
        if self.volume:
            parts.append(f"volume {self.volume}" + (f" of {self.volumes}" if self.volumes
                                                     else ""))
        return ", ".join(parts)


@dataclass
class Places:
    """Where to look; each field defaults to this machine's own (tests give loop devices and
    directories of their own)."""

    drives: list[str] | None = None  # optical drives
    tapes: list[str] | None = None  # tape drives
    devices: list[str] | None = None  # partitions and disks not mounted
    mounts: list[tuple[str, str, str]] | None = None  # (mount point, source, fstype)
    directories: list[str] = field(default_factory=list)  # looked into as they are


def find_sets(places: Places | None = None, *, host: Host | None = None,
              said: Callable[[str], None] = lambda text: None) -> list[FoundSet]:
    """Every set found, in the order: discs, tapes, partitions, mounted filesystems. `said`
    hears what is being looked at (long: a tape is rewound, a disk mounted)."""
    places = places or Places()
    host = host or Host()
    found: list[FoundSet] = []
    mounts = places.mounts if places.mounts is not None else mounted_filesystems()
    drives = places.drives if places.drives is not None else _devices(host, "sr")
    for drive in drives:
        said(f"Looking at the disc in {drive}")
        found += _on_disc(drive)
    tapes = places.tapes if places.tapes is not None else _tape_drives()
    for tape in tapes:
        said(f"Reading the header of the tape in {tape}")
        found += _on_tape(tape)
    devices = places.devices if places.devices is not None else unmounted_devices(host, mounts)
    for device in devices:
        said(f"Looking at {device}")
        found += _on_device(device, host)
    for point, source, fstype in mounts:
        said(f"Looking at {point}")
        kind = "nfs" if fstype.startswith("nfs") else "directory"
        media = (f"NFS share {source} at {point}" if kind == "nfs"
                 else f"{fstype} {source} mounted at {point}")
        found += _in_directory(point, media, kind)
    for directory in places.directories:
        found += _in_directory(directory, f"directory {directory}", "directory")
    return found


# -- where to look on this machine

def mounted_filesystems(mountinfo: str = "/proc/self/mountinfo") -> list[tuple[str, str, str]]:
    """(mount point, source, type) of the mounted filesystems that can hold a set; not / (the
    running system) and not the same filesystem twice (bind mounts)."""
    points = []
    seen = set()
    with open(mountinfo, "rb") as f:
        for line in f:
            fields = line.split()
            sep = fields.index(b"-")
            number = fields[2].decode()
            point = os.fsdecode(_unescape(fields[4]))
            fstype = fields[sep + 1].decode()
            source = os.fsdecode(_unescape(fields[sep + 2]))
            if point == "/" or fstype not in READ_IN_PLACE or (number, source) in seen:
                continue
            seen.add((number, source))
            points.append((point, source, fstype))
    return points


def _unescape(raw: bytes) -> bytes:
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), raw)


def _devices(host: Host, prefix: str) -> list[str]:
    block = os.path.join(host.sys_root, "class", "block")
    try:
        names = sorted(os.listdir(block))
    except OSError:
        return []
    return [f"/dev/{name}" for name in names if name.startswith(prefix)]


def _tape_drives(dev: str = "/dev") -> list[str]:
    try:
        return sorted(os.path.join(dev, n) for n in os.listdir(dev) if _TAPE.match(n))
    except OSError:
        return []


def unmounted_devices(host: Host, mounts: Iterable[tuple[str, str, str]] = ()) -> list[str]:
    """Partitions, and disks without partitions, that nothing uses: not mounted, not swap, not
    held by device-mapper or md, not empty. Skipped: optical drives (read as discs), ram, zram,
    free loop devices, dm and md devices."""
    block = os.path.join(host.sys_root, "class", "block")
    try:
        names = sorted(os.listdir(block))
    except OSError:
        return []
    busy = {os.path.realpath(source) for _, source, _ in mounts if source.startswith("/dev/")}
    busy |= {os.path.realpath(m.source) for m in host.mounts() if m.source.startswith("/dev/")}
    busy |= {os.path.realpath(s) for s in host.swap_areas()}
    devices = []
    for name in names:
        if name.startswith(("sr", "ram", "zram", "dm-", "md", "nbd")):
            continue
        sysdir = os.path.realpath(os.path.join(block, name))
        if host.attribute(sysdir, "size") in (None, "0"):
            continue
        if name.startswith("loop") and not host.backing_file(host.whole_disk(sysdir)):
            continue
        if host.holders(sysdir):
            continue
        is_disk = host.whole_disk(sysdir) == sysdir
        if is_disk and host.partitions(sysdir):
            continue  # its partitions are looked at instead
        node = f"/dev/{name}"
        if os.path.realpath(node) in busy:
            continue
        devices.append(node)
    return devices


# -- looking at one place

def _on_disc(drive: str) -> list[FoundSet]:
    try:
        volume = IsoVolume(drive)
    except NoVolume as no:
        log.info("no set on %s: %s", drive, no.why)
        return []
    try:
        header = volume.header
        return [FoundSet(drive, f"CD/DVD drive {drive}", "cd", header.set_id, header.host,
                         header.created, sum(p.size for p in header.pieces), header.volume,
                         header.volumes)]
    finally:
        volume.close()


def _on_tape(drive: str) -> list[FoundSet]:
    try:
        with open_tape(drive) as tape:
            header = read_header(tape)
            tape.rewind()
    except (TapeError, OSError) as exc:
        log.info("no set read from %s: %s", drive, exc)
        return []
    if header is None:
        return []
    return [_tape_found(drive, f"tape drive {drive}", "tape", header)]


def _tape_found(where: str, media: str, kind: str, header: TapeHeader) -> FoundSet:
    return FoundSet(where, media, kind, header.set_id, header.host, header.created,
                    sum(p.size for p in header.pieces), header.volume)


def _device_words(device: str, host: Host) -> tuple[str, str]:
    """("partition sdb1 (usb)", "usb") for a device."""
    name = os.path.basename(device)
    sysdir = host.sysdir_of_name(name) or ""
    disk = host.whole_disk(sysdir) if sysdir else ""
    usb = "/usb" in os.path.realpath(disk or sysdir)
    what = "partition" if sysdir and disk != sysdir else "disk"
    backing = host.backing_file(disk) if disk else None
    extra = "USB" if usb else (f"loop device of {backing}" if backing else "")
    return f"{what} {name}" + (f" ({extra})" if extra else ""), "usb" if usb else "disk"


def _on_device(device: str, host: Host) -> list[FoundSet]:
    media, kind = _device_words(device, host)
    if is_iso(device):  # an ISO volume written to a stick with dd: read as a disc is
        found = _on_disc(device)
        for one in found:
            one.media, one.kind = media + ", an ISO volume", kind
        return found
    try:
        fstype = probe(device).type
    except RestoreError as exc:
        log.info("cannot probe %s: %s", device, exc.message)
        return []
    if fstype not in MOUNTABLE:
        return []
    found = []
    with _mounted_read_only(device, fstype) as root:
        if root is None:
            return []
        for one in _in_directory(root, media, kind):
            inside = os.path.relpath(one.where, root)
            one.device, one.fstype, one.inside = device, fstype, "" if inside == "." else inside
            one.where = f"{device}:{one.inside or '/'}"  # opened by open_found
            found.append(one)
    return found


class _Mounted:
    def __init__(self, device: str, fstype: str):
        self.device, self.fstype = device, fstype
        self.root: str | None = None

    def __enter__(self) -> str | None:
        root = tempfile.mkdtemp(prefix="restore-console-look-")
        options = RO_EXTRA.get(self.fstype) or RO_OPTIONS.get(self.fstype, "ro")
        proc = run(["mount", "-t", self.fstype, "-o", options, self.device, root],
                   f"mount {self.device} read-only", check=False)
        if proc.returncode != 0:
            log.info("cannot mount %s (%s) to look: %s", self.device, self.fstype,
                     proc.stderr.decode(errors="replace").strip())
            os.rmdir(root)
            return None
        self.root = root
        return root

    def __exit__(self, *exc) -> None:
        if self.root is not None:
            unmount(self.root)
            os.rmdir(self.root)


def _mounted_read_only(device: str, fstype: str) -> _Mounted:
    return _Mounted(device, fstype)


def _in_directory(root: str, media: str, kind: str) -> list[FoundSet]:
    """The sets in root and below it (DEPTH levels)."""
    found = []
    for directory in _directories(root):
        manifest = os.path.join(directory, MANIFEST)
        if os.path.isfile(manifest):
            one = _set_directory(directory, media, kind)
            if one is not None:
                found.append(one)
            continue
        found += _images_in(directory, media, kind)
    return found


def _directories(root: str) -> Iterator[str]:
    """root and the directories below it, DEPTH levels deep, breadth first, not into another
    filesystem, not into a set (its own directories hold none), at most MAX_DIRECTORIES."""
    try:
        device = os.stat(root).st_dev
    except OSError:
        return
    level, seen = [root], 0
    for depth in range(DEPTH + 1):
        below = []
        for directory in level:
            seen += 1
            if seen > MAX_DIRECTORIES:
                return
            yield directory
            if depth == DEPTH or os.path.isfile(os.path.join(directory, MANIFEST)):
                continue
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        if (entry.is_dir(follow_symlinks=False) and not entry.name.startswith(".")
                                and entry.stat(follow_symlinks=False).st_dev == device):
                            below.append(entry.path)
            except OSError:
                continue
        level = sorted(below)


def _set_directory(directory: str, media: str, kind: str) -> FoundSet | None:
    try:
        with open(os.path.join(directory, MANIFEST)) as f:
            data = json.load(f)
        size = sum(piece.get("size", 0) for piece in _pieces(data))
        return FoundSet(directory, media, kind, data["set_id"], data.get("host", ""), data.get("created", ""),
                        size)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.info("%s: not a readable set (%s)", directory, exc)
        return None


def _pieces(data: dict) -> Iterator[dict]:
    """Every archive piece the manifest lists (boot areas, filesystems, subvolumes)."""
    def walk(value):
        if isinstance(value, dict):
            if "blake3" in value and "size" in value and "file" in value:
                yield value
                return
            for item in value.values():
                yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)
    yield from walk({"disks": data.get("disks"), "filesystems": data.get("filesystems")})


def _images_in(directory: str, media: str, kind: str) -> list[FoundSet]:
    """ISO volumes (the lowest number of each set) and .tap images in directory."""
    found: dict[str, FoundSet] = {}
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    for name in names:
        path = os.path.join(directory, name)
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):
                continue
        except OSError:
            continue
        if name.endswith(".iso") and is_iso(path):
            for one in _on_disc(path):
                one.media, one.kind = f"ISO volume {name} in {media}", "image"
                known = found.get(one.set_id)
                if known is None or one.volume < known.volume:
                    found[one.set_id] = one
        elif name.endswith(".tap"):
            for one in _on_tape(path):
                one.media, one.kind = f"tape image {name} in {media}", "image"
                found.setdefault(f"{one.set_id}:{path}", one)
    return list(found.values())


# -- opening a set found

_OPENED_MOUNTS: list[str] = []


def open_found(found: FoundSet) -> str:
    """The SET to open for a set found: as found, or, on a partition that is not mounted,
    the set's directory once the partition is mounted read-only again (kept mounted until
    the console ends)."""
    if not found.device:
        return found.where
    root = tempfile.mkdtemp(prefix="restore-console-set-")
    options = RO_EXTRA.get(found.fstype) or RO_OPTIONS.get(found.fstype, "ro")
    run(["mount", "-t", found.fstype, "-o", options, found.device, root],
        f"mount {found.device} read-only")
    _OPENED_MOUNTS.append(root)
    return os.path.join(root, found.inside) if found.inside else root


def release_found() -> None:
    """Unmounts what open_found mounted (at exit)."""
    while _OPENED_MOUNTS:
        root = _OPENED_MOUNTS.pop()
        try:
            unmount(root)
            os.rmdir(root)
        except (RestoreError, OSError) as exc:
            log.warning("could not unmount %s: %s", root, exc)


atexit.register(release_found)
