"""What is on a partition: filesystem type, UUID, label, and what it takes to make it again."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..system import output, run

TOOLS = ("blkid", "dumpe2fs", "xfs_db")  # run here; the rescue image carries them

# Filesystems archived file by file with GNU tar when this kernel can mount them; any other
# content of a partition is saved as a raw image. vfat (the EFI system partition) is always
# imaged: it is small, holds no owners or modes tar could restore, and rescue kernels often
# lack it.
TAR_TYPES = ("ext2", "ext3", "ext4", "xfs", "btrfs")
# Read-only mounts that must not replay a journal (the source stays untouched).
RO_OPTIONS = {"ext3": "ro,noload", "ext4": "ro,noload", "xfs": "ro,norecovery"}
# ext4 features that describe a state, not a choice made at mkfs time.
_EXT_STATE_FEATURES = {"needs_recovery", "orphan_present", "mmp", "snapshot_bitmap"}


@dataclass(frozen=True)
class Probe:
    type: str
    uuid: str
    label: str
    block_size: int
    # blkid's TYPE whatever its use: also LVM2_member, linux_raid_member, crypto_LUKS, which
    # hold no filesystem themselves (type is "" for them).
    content: str = ""


def probe(device: str, offset: int | None = None, size: int | None = None) -> Probe:
    """blkid's low-level probe (-p): reads the superblock, not a cache. With offset and size
    (bytes), what lies there: a partition of a disk or image file, without attaching it."""
    where = [*(["-O", str(offset)] if offset is not None else []),
             *(["-S", str(size)] if size is not None else [])]
    proc = run(["blkid", "-p", "-o", "export", *where, device], f"probe {device}", check=False)
    values = {}
    for line in proc.stdout.decode(errors="replace").splitlines():
        key, _, value = line.partition("=")
        values[key] = value
    content = values.get("TYPE", "")
    if values.get("USAGE") not in ("filesystem", "other"):
        values["TYPE"] = ""
    return Probe(type=values.get("TYPE", ""), uuid=values.get("UUID", ""),
                 label=values.get("LABEL", ""), block_size=int(values.get("BLOCK_SIZE", 0) or 0),
                 content=content)


def kernel_filesystems() -> set[str]:
    with open("/proc/filesystems") as f:
        return {line.split()[-1] for line in f if line.strip()}


def archivable(fstype: str) -> bool:
    return fstype in TAR_TYPES and fstype in kernel_filesystems()


def mkfs_options(device: str, found: Probe) -> dict:
    """What mkfs needs besides UUID and label to make the filesystem as it was."""
    if found.type.startswith("ext"):
        text = output(["dumpe2fs", "-h", device], f"read the ext superblock of {device}")
        fields = dict(re.findall(r"^([A-Za-z ]+):\s+(.*)$", text, re.M))
        features = [f for f in fields.get("Filesystem features", "").split()
                    if f not in _EXT_STATE_FEATURES]
        return {"block_size": int(fields["Block size"]), "inode_size": int(fields["Inode size"]),
                "inode_count": int(fields["Inode count"]), "features": features}
    if found.type == "xfs":
        # blkid's BLOCK_SIZE is xfs's sector size; the block size is in the superblock.
        text = output(["xfs_db", "-r", "-c", "sb 0", "-c", "p blocksize", device],
                      f"read the xfs superblock of {device}")
        return {"block_size": int(text.split("=")[1])}
    return {}


def bytes_used(mountpoint: str) -> tuple[int, int]:
    """(bytes used, inodes used) of a mounted filesystem."""
    st = os.statvfs(mountpoint)
    return (st.f_blocks - st.f_bfree) * st.f_frsize, max(0, st.f_files - st.f_ffree)
