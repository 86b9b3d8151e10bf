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
    # What it lives on when not on the partition itself (see Stack): "lv:VG/LV", "md:UUID",
    # "luks:UUID"; "" for a partition (and in every set written before stacks were captured).
    # disk is then the disk under it that the mapping moves (the first one of the stack).
    on: str = ""

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
                          archive=subvolume.archive, subvolume=subvolume.path, on=self.on)

    @property
    def on_partition(self) -> bool:
        """It lives on a partition of its disk, not in an LV, an array or a LUKS mapping."""
        return not self.on

    @property
    def title(self) -> str:
        """How the operator reads it: "ext4 /home", "swap", "partition 1 (no filesystem)"."""
        if not self.type:
            return (f"partition {self.partition} (no filesystem)" if not self.on
                    else f"{place_words(self.on)} (no filesystem)")
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


# -- the stack under filesystems: md arrays, LVM, LUKS ------------------------------------
#
# Each layer names what it lives on with a place, a string: "part:DISK:N" (partition N of the
# set's disk DISK), "md:UUID" (an array), "luks:UUID" (an opened LUKS container), "lv:VG/LV"
# (a logical volume, for a filesystem or a LUKS container inside one). Places are data, so the
# manifest stays plain JSON and a layer can sit on any other.


def partition_place(disk: str, number: int) -> str:
    return f"part:{disk}:{number}"


def parse_place(place: str) -> tuple[str, str]:
    """("part", "DISK:N") | ("md", UUID) | ("luks", UUID) | ("lv", "VG/LV")."""
    kind, _, rest = place.partition(":")
    if kind not in ("part", "md", "luks", "lv") or not rest:
        raise ValueError(f"not a place: {place!r}")
    return kind, rest


def partition_of(place: str) -> tuple[str, int] | None:
    """(disk, number) of a partition's place, None for any other."""
    kind, rest = parse_place(place)
    if kind != "part":
        return None
    disk, _, number = rest.rpartition(":")
    return disk, int(number)


def place_words(place: str) -> str:
    """How the operator reads a place: "LV vg0/root", "md array 3f2a...", "partition 2 of
    /dev/sda"."""
    kind, rest = parse_place(place)
    if kind == "part":
        disk, number = partition_of(place)
        return f"partition {number} of {disk}"
    return {"lv": f"LV {rest}", "md": f"md array {rest}", "luks": f"LUKS {rest}"}[kind]


@dataclass
class MdMember:
    device: str  # its name on the source machine: /dev/sda1
    on: str  # what it is in the set: "part:/dev/sda:1"
    role: str  # its slot ("0", "1") or "spare", "faulty"
    size: int = 0  # bytes of the member device


@dataclass
class MdArray:
    uuid: str  # as mdadm prints it: 4 groups of 8 hex digits separated by colons
    device: str  # on the source: /dev/md0 (or /dev/md/NAME)
    name: str  # the superblock's name, "host:0" ("" with metadata 0.90)
    level: str  # raid1, raid0, raid5, raid10, linear
    metadata: str  # 1.2, 1.0, 0.90
    size: int  # bytes of the array
    raid_devices: int
    members: list[MdMember] = field(default_factory=list)
    chunk_size: int = 0  # bytes, 0 for levels without chunks (raid1)
    bitmap: str = ""  # "internal", "none", or a file's path
    content: str = ""  # blkid's TYPE of what is on the array ("" for a filesystem)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "MdArray":
        array = _from_dict(cls, data)
        array.members = [_from_dict(MdMember, m) for m in data.get("members") or []]
        return array

    @property
    def place(self) -> str:
        return f"md:{self.uuid}"


@dataclass
class PhysicalVolume:
    uuid: str  # LVM's: 6-4-4-4-4-4-6 characters
    device: str  # on the source: /dev/sda2, /dev/md0, /dev/mapper/sda3_crypt
    on: str  # what it is in the set: "part:/dev/sda:2", "md:UUID", "luks:UUID"
    size: int  # bytes of the PV (pv_size)
    device_size: int = 0  # bytes of the device under it (dev_size)
    pe_start: int = 0  # bytes before the first extent (metadata area)


@dataclass
class LogicalVolume:
    name: str
    uuid: str
    size: int  # bytes
    type: str  # linear | striped | mirror | raid1 | thin-pool | thin | ... (lvs segtype)
    tags: list[str] = field(default_factory=list)
    pool: str = ""  # a thin volume's pool
    stripes: int = 1
    active: bool = True
    attributes: str = ""  # lv_attr, as lvs prints it


@dataclass
class VolumeGroup:
    name: str
    uuid: str
    extent_size: int  # bytes
    size: int  # bytes
    extents: int  # vg_extent_count
    pvs: list[PhysicalVolume] = field(default_factory=list)
    lvs: list[LogicalVolume] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    # vgcfgbackup's text: vgcfgrestore and pvcreate --restorefile make the VG again from it
    metadata: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "VolumeGroup":
        group = _from_dict(cls, data)
        group.pvs = [_from_dict(PhysicalVolume, p) for p in data.get("pvs") or []]
        group.lvs = [_from_dict(LogicalVolume, v) for v in data.get("lvs") or []]
        group.tags = list(data.get("tags") or [])
        return group

    def lv(self, name: str) -> LogicalVolume:
        for volume in self.lvs:
            if volume.name == name:
                return volume
        raise KeyError(name)


@dataclass
class LuksContainer:
    uuid: str
    device: str  # on the source: /dev/sda3
    on: str  # what it is in the set: "part:/dev/sda:3", "lv:vg0/secret", "md:UUID"
    name: str  # the mapping's name, as crypttab has it: sda3_crypt
    version: int  # 1 | 2
    cipher: str  # aes-xts-plain64
    key_size: int  # bits
    size: int = 0  # bytes of the device it is on
    payload_offset: int = 0  # bytes of header before the data
    pbkdf: str = ""  # argon2id, pbkdf2
    hash: str = ""  # sha256
    sector_size: int = 512  # the data's encryption sector (LUKS2)
    label: str = ""  # LUKS2 label
    content: str = ""  # blkid's TYPE of what is inside when it holds no filesystem

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LuksContainer":
        return _from_dict(cls, data)

    @property
    def place(self) -> str:
        return f"luks:{self.uuid}"


@dataclass
class Stack:
    """The layers between the partitions and the filesystems. Empty in a set of plain
    partitions, and in every set written before stacks were captured."""

    arrays: list[MdArray] = field(default_factory=list)
    volume_groups: list[VolumeGroup] = field(default_factory=list)
    luks: list[LuksContainer] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.arrays or self.volume_groups or self.luks)

    def to_json(self) -> dict[str, Any]:
        return {"arrays": [a.to_json() for a in self.arrays],
                "volume_groups": [g.to_json() for g in self.volume_groups],
                "luks": [c.to_json() for c in self.luks]}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> "Stack":
        data = data or {}
        return cls(arrays=[MdArray.from_json(a) for a in data.get("arrays") or []],
                   volume_groups=[VolumeGroup.from_json(g)
                                  for g in data.get("volume_groups") or []],
                   luks=[LuksContainer.from_json(c) for c in data.get("luks") or []])

    def group(self, name: str) -> VolumeGroup:
        for group in self.volume_groups:
            if group.name == name:
                return group
        raise KeyError(name)

    def array(self, uuid: str) -> MdArray:
        for array in self.arrays:
            if array.uuid == uuid:
                return array
        raise KeyError(uuid)

    def container(self, uuid: str) -> LuksContainer:
        for container in self.luks:
            if container.uuid == uuid:
                return container
        raise KeyError(uuid)

    def size_of(self, place: str) -> int:
        """Bytes of what a place names (an LV, an array, a LUKS container's payload); a
        partition's size is the disk's to say, so KeyError."""
        kind, rest = parse_place(place)
        if kind == "lv":
            vg, _, lv = rest.partition("/")
            return self.group(vg).lv(lv).size
        if kind == "md":
            return self.array(rest).size
        if kind == "luks":
            container = self.container(rest)
            return container.size - container.payload_offset
        raise KeyError(place)

    def below(self, place: str) -> list[str]:
        """The places a place rests on, one level down: an LV's PVs' places, an array's
        members', a LUKS container's device; none for a partition."""
        kind, rest = parse_place(place)
        if kind == "lv":
            return [pv.on for pv in self.group(rest.partition("/")[0]).pvs]
        if kind == "md":
            return [m.on for m in self.array(rest).members]
        if kind == "luks":
            return [self.container(rest).on]
        return []

    def partitions_under(self, place: str) -> list[tuple[str, int]]:
        """(disk, number) of every partition at the bottom of a place, in order."""
        found = partition_of(place) if place.startswith("part:") else None
        if found is not None:
            return [found]
        under: list[tuple[str, int]] = []
        for lower in self.below(place):
            for item in self.partitions_under(lower):
                if item not in under:
                    under.append(item)
        return under
