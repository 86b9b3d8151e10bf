"""The source layout as the manifest records it: disks, partitions, filesystems, archives.

Plain data, sizes and offsets in bytes, converted to and from the manifest's JSON. Capturing it
from a real disk lives in capture.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

GPT_BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649"
GPT_ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"


def _from_dict(cls, data: dict[str, Any]):
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Partition:
    number: int
    start: int  # bytes from the start of the disk
    size: int  # bytes
    kind: str  # primary | extended | logical (gpt partitions are "primary")
    flags: list[str] = field(default_factory=list)
    name: str = ""  # GPT partition name
    type_uuid: str = ""  # GPT partition type GUID
    type_id: int | None = None  # msdos system id (0x83 ...)
    partuuid: str = ""


@dataclass
class Disk:
    name: str  # how the set names the disk, e.g. /dev/sda, or the image path it was read from
    size: int
    logical_sector_size: int
    physical_sector_size: int
    table: str  # msdos | gpt
    disk_id: str = ""  # GPT disk GUID, or msdos disk signature
    model: str = ""
    serial: str = ""
    wwn: str = ""
    partitions: list[Partition] = field(default_factory=list)
    boot_area: "Archive | None" = None  # msdos: boot code and the gap before the first partition

    def partition(self, number: int) -> Partition:
        for part in self.partitions:
            if part.number == number:
                return part
        raise KeyError(number)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["boot_area"] = self.boot_area.to_json() if self.boot_area else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Disk":
        disk = _from_dict(cls, data)
        disk.partitions = [_from_dict(Partition, p) for p in data.get("partitions", [])]
        disk.boot_area = Archive.from_json(data["boot_area"]) if data.get("boot_area") else None
        return disk


@dataclass
class Piece:
    file: str  # relative to the set directory
    size: int
    blake3: str


@dataclass
class Archive:
    kind: str  # tar (a pax tar stream) | raw (the partition's bytes)
    pieces: list[Piece]
    uncompressed_size: int
    members: int = 0  # catalog rows (tar only)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Archive":
        archive = _from_dict(cls, data)
        archive.pieces = [_from_dict(Piece, p) for p in data.get("pieces", [])]
        return archive


@dataclass
class Omission:
    """Something a backup met and did not capture fully, recorded because the operator allowed
    it (backup --allow-omissions): a file left out, a file that may be inconsistent, or a part
    of a filesystem (a btrfs subvolume) not archived."""

    fs: int  # the Filesystem's id
    device: str  # the partition's name on the source machine
    path: str  # inside the filesystem, "/" first; "" for the whole filesystem
    what: str  # "left out" | "may be inconsistent"
    why: str  # tar's or the backup's own words

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Omission":
        return _from_dict(cls, data)

    @property
    def words(self) -> str:
        where = f"{self.device}:{self.path}" if self.path else self.device
        return f"{where}: {self.what} ({self.why})"


@dataclass
class Subvolume:
    """A btrfs subvolume other than the top level (id 5): its place, identity and flags, and
    the archive of its own content (nested subvolumes are archived on their own)."""

    path: str  # from the top level, without a leading slash: "@", "@home", "@/var/lib/machines"
    id: int  # the subvolume id on the source; a restore makes new ones, paths stay
    parent_id: int  # the subvolume it sits in (5: the top level)
    uuid: str = ""
    parent_uuid: str = ""  # of the subvolume it is a snapshot of ("" when none)
    received_uuid: str = ""  # set by btrfs receive ("" when none)
    read_only: bool = False
    default: bool = False  # the default subvolume (mounted without subvol=)
    mountpoint: str = ""  # where the machine had it: its fstab entry, or inside a mounted one
    # qgroup 0/id limits in bytes (0: none), recorded when quotas were enabled
    max_referenced: int = 0
    max_exclusive: int = 0
    # the key of its members in the catalog (a number of its own, not a filesystem id)
    catalog_id: int = 0
    archive: "Archive | None" = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["archive"] = self.archive.to_json() if self.archive else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Subvolume":
        subvolume = _from_dict(cls, data)
        subvolume.archive = Archive.from_json(data["archive"]) if data.get("archive") else None
        return subvolume


def subvolume_catalog_id(fs_id: int, subvolume_id: int) -> int:
    """A catalog key for a subvolume that no filesystem id (1, 2, ...) can take."""
    return (fs_id << 32) | subvolume_id


@dataclass
class Filesystem:
    id: int
    disk: str
    partition: int
    device: str  # the partition's name on the source machine
    type: str  # ext4, xfs, vfat, btrfs, swap, or "" for a partition without a known filesystem
    uuid: str = ""
    label: str = ""
    mountpoint: str = ""  # from the source's /etc/fstab, "" when not mounted there
    size: int = 0  # bytes of the partition
    bytes_used: int = 0
    mkfs: dict[str, Any] = field(default_factory=dict)  # what is needed to recreate it
    archive: Archive | None = None  # None for swap
    # blkid's name of what is on a partition without a filesystem (LVM2_member,
    # linux_raid_member, crypto_LUKS); "" when there is a filesystem, or nothing blkid knows.
    content: str = ""
    # Why it was saved as a raw image rather than file by file ("" when it was not, or in a
    # set written before the reason was recorded).
    image_reason: str = ""
    # btrfs: its subvolumes besides the top level, whose own content is `archive`; empty for
    # a btrfs without any (and in sets written before subvolumes were captured).
    subvolumes: list[Subvolume] = field(default_factory=list)
    quota: bool = False  # btrfs quotas were enabled (the subvolumes carry their limits)
    # Set only on the view of one subvolume (BackupSet.file_trees): its path from the top level.
    subvolume: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["archive"] = self.archive.to_json() if self.archive else None
        data["subvolumes"] = [s.to_json() for s in self.subvolumes]
        del data["subvolume"]  # views are never saved
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Filesystem":
        fs = _from_dict(cls, data)
        fs.archive = Archive.from_json(data["archive"]) if data.get("archive") else None
        fs.subvolumes = [Subvolume.from_json(s) for s in data.get("subvolumes") or []]
        fs.subvolume = ""
        return fs

    @property
    def archives(self) -> list[Archive]:
        """Its archive and those of its subvolumes."""
        found = [self.archive] if self.archive else []
        return found + [s.archive for s in self.subvolumes if s.archive]

    @property
    def bytes_needed(self) -> int:
        """What the restored filesystem holds at least: its bytes used; for a btrfs with
        subvolumes, at least the files of all of them, since a restore writes each one's files
        on their own (a snapshot no longer shares its data with its source)."""
        if not self.subvolumes:
            return self.bytes_used
        return max(self.bytes_used, sum(a.uncompressed_size for a in self.archives))

    @property
    def place(self) -> str:
        """Where it shows in the machine's tree: its mount point, or, for a btrfs whose top
        level was not mounted, that of its subvolume mounted highest (/ for @); "" if none."""
        if self.mountpoint or not self.subvolumes:
            return self.mountpoint
        points = [s.mountpoint for s in self.subvolumes if s.mountpoint.startswith("/")]
        return min(points, key=lambda p: (p.rstrip("/").count("/"), p), default="")

    @property
    def subvolume_option(self) -> str:
        """The mount option that shows this file tree at the mount's root: subvol=/@home for a
        subvolume's view, subvolid=5 for the top level of a btrfs with subvolumes."""
        if self.subvolume:
            return f"subvol=/{self.subvolume}"
        return "subvolid=5" if self.subvolumes else ""

    def subvolume_view(self, subvolume: Subvolume) -> "Filesystem":
        """One subvolume as a file tree of its own: its catalog key as id, its mount point."""
        return Filesystem(id=subvolume.catalog_id, disk=self.disk, partition=self.partition,
                          device=self.device, type=self.type, uuid=self.uuid, label=self.label,
                          mountpoint=subvolume.mountpoint, size=self.size,
                          bytes_used=subvolume.archive.uncompressed_size
                          if subvolume.archive else 0,
                          archive=subvolume.archive, subvolume=subvolume.path)

    @property
    def title(self) -> str:
        """How the operator reads it: "ext4 /home", "swap", "partition 1 (no filesystem)"."""
        if not self.type:
            return f"partition {self.partition} (no filesystem)"
        if self.subvolume:
            return (f"btrfs subvolume {self.subvolume}"
                    + (f" ({self.mountpoint})" if self.mountpoint else ""))
        if self.type == "swap":  # "swap swap" says nothing twice
            return "swap" + (f" {self.label}" if self.label not in ("", "swap") else "")
        return f"{self.type} {self.mountpoint or self.label or self.device}"


def mount_order(filesystems: list[Filesystem]) -> list[Filesystem]:
    """Filesystems with a mount point, parents before children (/ before /boot before /boot/efi);
    a btrfs by its subvolume mounted highest when its top level was not mounted (Filesystem.place)."""
    mounted_ones = [fs for fs in filesystems if fs.place.startswith("/")]
    return sorted(mounted_ones, key=lambda fs: (fs.place.rstrip("/").count("/"), fs.place))
