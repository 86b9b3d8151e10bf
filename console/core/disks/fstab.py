"""Reading the source's /etc/fstab to learn where each filesystem was mounted."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FstabEntry:
    spec: str  # UUID=..., LABEL=..., PARTUUID=..., PARTLABEL=... or a device path
    mountpoint: str
    fstype: str
    options: str = ""  # as written: "defaults", "subvol=@,compress=zstd" ...

    def option(self, name: str) -> str | None:
        """The value of one option (subvol=@ -> "@"), "" for a flag, None when absent."""
        for option in self.options.split(","):
            key, sep, value = option.partition("=")
            if key == name:
                return value if sep else ""
        return None


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


def parse_fstab(text: str) -> list[FstabEntry]:
    entries = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 3:
            entries.append(FstabEntry(_unescape(fields[0]), _unescape(fields[1]), fields[2],
                                      _unescape(fields[3]) if len(fields) > 3 else ""))
    return entries


def matches(spec: str, *, uuid: str, label: str, partuuid: str, partlabel: str,
            device: str) -> bool:
    key, sep, value = spec.partition("=")
    if not sep:
        return spec == device
    value = value.strip('"')
    wanted = {"UUID": uuid, "LABEL": label, "PARTUUID": partuuid, "PARTLABEL": partlabel}
    found = wanted.get(key.upper())
    if not found or not value:
        return False
    # UUIDs are compared without regard to case; labels are exact.
    return found.lower() == value.lower() if key.upper().endswith("UUID") else found == value


# Names that end in a number without being a partition: md arrays, device-mapper, loop devices.
_WHOLE_DEVICES = ("md", "dm-", "loop", "sr", "nbd", "zram", "ram")


def partition_path(disk: str, number: int) -> str:
    """The kernel's name of partition `number` of the disk named `disk`: /dev/sda -> /dev/sda2,
    /dev/nvme0n1 -> /dev/nvme0n1p2 (a disk name ending in a digit takes a "p")."""
    return f"{disk}{'p' if disk[-1:].isdigit() else ''}{number}"


def disk_of_partition_path(path: str, number: int) -> str | None:
    """The disk of a partition path that names partition `number`: (/dev/sda2, 2) -> /dev/sda,
    (/dev/nvme0n1p2, 2) -> /dev/nvme0n1; None when the path does not name that partition."""
    if not path.startswith("/dev/") or path.startswith("/dev/disk/"):
        return None
    suffix = str(number)
    if not path.endswith(suffix):
        return None
    disk = path[:-len(suffix)]
    if disk.endswith("p") and disk[-2:-1].isdigit():
        disk = disk[:-1]
    elif disk[-1:].isdigit() or disk == "/dev/" or disk[5:] in _WHOLE_DEVICES:
        return None  # /dev/sda12 is not partition 2; /dev/md2 is no partition at all
    return disk if partition_path(disk, number) == path else None
