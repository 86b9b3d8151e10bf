"""Making a filesystem again with its original UUID, label and creation options."""

from __future__ import annotations

from ..errors import RestoreError
from ..layout import Filesystem
from ..system import run

TOOLS = ("mkfs.ext2", "mkfs.ext3", "mkfs.ext4", "mkfs.xfs", "mkfs.btrfs",
         "mkswap")  # run here; the rescue image carries them


def mkfs_command(fs: Filesystem, device: str, size: int | None = None) -> list[str]:
    """The mkfs command that makes fs again on device; `size` is the new partition's size
    (a grown ext filesystem gets proportionally more inodes, never fewer than it had)."""
    opts = fs.mkfs
    if fs.type in ("ext2", "ext3", "ext4"):
        cmd = [f"mkfs.{fs.type}", "-F", "-q"]
        if fs.uuid:
            cmd += ["-U", fs.uuid]
        if fs.label:
            cmd += ["-L", fs.label]
        if opts.get("block_size"):
            cmd += ["-b", str(opts["block_size"])]
        if opts.get("inode_size"):
            cmd += ["-I", str(opts["inode_size"])]
        if opts.get("inode_count"):
            inodes = opts["inode_count"]
            if size and fs.size and size > fs.size:
                inodes = inodes * size // fs.size
            cmd += ["-N", str(inodes)]
        if opts.get("features"):
            cmd += ["-O", ",".join(["none", *opts["features"]])]
        return [*cmd, device]
    if fs.type == "xfs":
        cmd = ["mkfs.xfs", "-f", "-q"]
        if fs.uuid:
            cmd += ["-m", f"uuid={fs.uuid}"]
        if fs.label:
            cmd += ["-L", fs.label]
        if opts.get("block_size"):
            cmd += ["-b", f"size={opts['block_size']}"]
        return [*cmd, device]
    if fs.type == "btrfs":
        cmd = ["mkfs.btrfs", "-f", "-q"]
        if fs.uuid:
            cmd += ["-U", fs.uuid]
        if fs.label:
            cmd += ["-L", fs.label]
        return [*cmd, device]
    if fs.type == "swap":
        cmd = ["mkswap", "-f"]
        if fs.uuid:
            cmd += ["-U", fs.uuid]
        if fs.label:
            cmd += ["-L", fs.label]
        return [*cmd, device]
    raise RestoreError(f"This console cannot make a {fs.type} filesystem ({fs.device}).",
                       "Make it by hand from the shell, then restore the files into it.")


def make_filesystem(fs: Filesystem, device: str, size: int | None = None) -> None:
    run(mkfs_command(fs, device, size), f"make the {fs.type} filesystem of {fs.device} on {device}")
