"""Block devices: disk-image files attached as loop devices, partitions, mounts.

A disk named on the command line is a block device or an image file; `attach_disk` turns either
into a whole-disk device plus one device per partition, and undoes what it did on exit, also on
failure. Some kernels do not scan partition tables on loop devices; then the partitions are
added with partx (BLKPG), and where even that fails, each partition gets a loop device of its
own with an offset and a size limit.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass, field
from typing import Iterator

from ..errors import RestoreError
from ..system import output, run

TOOLS = ("losetup", "partx", "mount", "umount")  # run here; the rescue image carries them

log = logging.getLogger("restore_console")


def is_block_device(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def partition_node(disk: str, number: int) -> str:
    """/dev/sda + 1 -> /dev/sda1; /dev/nvme0n1 + 1 -> /dev/nvme0n1p1."""
    return f"{disk}p{number}" if disk[-1].isdigit() else f"{disk}{number}"


def device_size(path: str) -> int:
    with open(path, "rb") as f:
        return f.seek(0, os.SEEK_END)


@dataclass
class AttachedDisk:
    """A disk ready for use: `device` is the whole disk, `partitions` maps number -> device."""

    source: str
    device: str
    partitions: dict[int, str] = field(default_factory=dict)

    def partition(self, number: int) -> str:
        try:
            return self.partitions[number]
        except KeyError:
            raise RestoreError(f"Partition {number} of {self.source} has no device node.",
                               "Check that the partition table was written.") from None


def _partitions_match(disk: AttachedDisk, partitions: list[tuple[int, int, int]],
                      seconds: float) -> bool:
    """True once every partition's device node exists and the kernel's idea of its start and
    size (sysfs) is the table's. Stale partitions of a reused loop device fail this check."""
    deadline = time.monotonic() + seconds
    while True:
        if all(_kernel_geometry(disk.partitions[n]) == (start, size) for n, start, size in partitions):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _kernel_geometry(node: str) -> tuple[int, int] | None:
    sysfs = f"/sys/class/block/{os.path.basename(node)}"
    try:
        with open(f"{sysfs}/start") as f:
            start = int(f.read()) * 512
        with open(f"{sysfs}/size") as f:
            size = int(f.read()) * 512
    except (FileNotFoundError, ValueError):
        return None
    return (start, size) if os.path.exists(node) else None


def _losetup(args: list[str], what: str) -> str:
    return output(["losetup", "--show", "-f", *args], what).strip()


def _detach(device: str) -> None:
    for attempt in range(20):
        proc = run(["losetup", "-d", device], f"detach {device}", check=False)
        if proc.returncode == 0:
            return
        time.sleep(0.1 * (attempt + 1))
    log.error("could not detach %s", device)


@contextlib.contextmanager
def attach_disk(path: str, partitions: list[tuple[int, int, int]], *,
                read_only: bool) -> Iterator[AttachedDisk]:
    """Attaches a disk; `partitions` lists (number, start, size) in bytes as the table says."""
    if is_block_device(path):
        disk = AttachedDisk(path, path, {n: partition_node(path, n) for n, _, _ in partitions})
        if not _partitions_match(disk, partitions, 1):
            run(["partx", "-u", path], f"re-read the partition table of {path}", check=False)
            if not _partitions_match(disk, partitions, 5):
                raise RestoreError(f"The kernel's partitions of {path} do not match its table.",
                                   "Run 'partprobe' or re-plug the disk, then try again.")
        yield disk
        return
    if not os.path.isfile(path):
        raise RestoreError(f"{path} is neither a block device nor a disk-image file.",
                           "Name a disk such as /dev/sda, or an existing image file.")
    ro = ["-r"] if read_only else []
    loops: list[str] = []
    whole = ""
    try:
        whole = _losetup([*ro, "-P", path], f"attach {path} as a loop device")
        loops.append(whole)
        disk = AttachedDisk(path, whole, {n: partition_node(whole, n) for n, _, _ in partitions})
        # Kernels without partition-table support leave -P without effect: partx adds the
        # partitions through BLKPG, and "update" also drops stale ones of an earlier image.
        # No waiting first: the kernel reads the table inside losetup's attach call, so the
        # partitions are there when it returns or not at all.
        if not _partitions_match(disk, partitions, 0):
            run(["partx", "-u", whole], f"add the partitions of {path}", check=False)
            run(["partx", "-a", whole], f"add the partitions of {path}", check=False)
        if not _partitions_match(disk, partitions, 2):
            log.info("no usable partition nodes for %s: one loop device per partition", path)
            for number, start, size in partitions:
                disk.partitions[number] = _losetup(
                    [*ro, "--offset", str(start), "--sizelimit", str(size), path],
                    f"attach partition {number} of {path}")
                loops.append(disk.partitions[number])
        yield disk
    finally:
        if whole:
            # Partitions added with partx outlive the loop device on some kernels.
            run(["partx", "-d", whole], f"remove the partitions of {whole}", check=False)
        for loop in reversed(loops):
            _detach(loop)


def unescape_octal(field: bytes) -> str:
    """mountinfo and /proc/swaps write space, tab, newline and backslash as octal escapes."""
    raw = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), field)
    return os.fsdecode(raw)


def mount_table(mountinfo: str = "/proc/self/mountinfo") -> list[tuple[str, str, str]]:
    """(major:minor, mount point, source) of every mount, from mountinfo."""
    entries = []
    with open(mountinfo, "rb") as f:
        for line in f:
            fields = line.split()
            sep = fields.index(b"-")
            entries.append((fields[2].decode(), unescape_octal(fields[4]),
                            unescape_octal(fields[sep + 2])))
    return entries


@contextlib.contextmanager
def mounted(device: str, fstype: str, options: str = "", where: str | None = None) -> Iterator[str]:
    """Mounts device (at `where`, or a fresh temporary directory) and always unmounts it."""
    target = where or tempfile.mkdtemp(prefix="restore-console-mnt-")
    cmd = ["mount", "-t", fstype]
    if options:
        cmd += ["-o", options]
    run([*cmd, device, target], f"mount {device} ({fstype})")
    try:
        yield target
    finally:
        unmount(target)
        if where is None:
            os.rmdir(target)


def unmount(target: str) -> None:
    for attempt in range(10):
        if run(["umount", target], f"unmount {target}", check=False).returncode == 0:
            return
        time.sleep(0.2 * (attempt + 1))
    run(["umount", "-l", target], f"unmount {target}")


_libc = ctypes.CDLL(None, use_errno=True)


def syncfs(fd: int) -> None:
    """Writes out everything of the filesystem holding fd (os has sync() for all of them only,
    which would also flush the disk that holds the set)."""
    if _libc.syncfs(fd) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
