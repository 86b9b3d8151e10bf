"""The kernel's view of block devices, read from sysfs and /proc.

Which whole disk a device belongs to, what lies under a device (its disk, the slaves of a
device-mapper or md device, the disk holding a loop device's backing file), and what uses a
disk (mounts, swap, holders). Everything is read through a `Host`, which names the sysfs root
and the /proc files: the real system by default, a fake tree in tests.

Devices are named by their sysfs directory, resolved (realpath), so two names of one device
compare equal.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from .blockdev import mount_table, unescape_octal


@dataclass(frozen=True)
class Mount:
    number: str  # major:minor as mountinfo gives it (0:N for btrfs, tmpfs, nfs ...)
    point: str
    source: str  # /dev/sda1, or what the filesystem says (tmpfs, server:/export ...)


@dataclass(frozen=True)
class Host:
    """Where the kernel's view is read from."""

    sys_root: str = "/sys"
    mountinfo: str = "/proc/self/mountinfo"
    swaps: str = "/proc/swaps"

    def attribute(self, sysdir: str, name: str) -> str | None:
        """A sysfs attribute as stripped text; None where the device does not have it."""
        data = self.raw_attribute(sysdir, name)
        return None if data is None else data.decode(errors="replace").strip()

    def raw_attribute(self, sysdir: str, name: str) -> bytes | None:
        try:
            with open(os.path.join(sysdir, name), "rb") as f:
                return f.read()
        except OSError:  # absent, or not readable for this device (some vpd pages)
            return None

    def sysdir_of_number(self, number: str) -> str | None:
        """The sysfs directory of the block device major:minor, None if there is none."""
        link = os.path.join(self.sys_root, "dev", "block", number)
        return os.path.realpath(link) if os.path.exists(link) else None

    def sysdir_of_name(self, name: str) -> str | None:
        link = os.path.join(self.sys_root, "class", "block", name)
        return os.path.realpath(link) if name and os.path.exists(link) else None

    def sysdir_of_node(self, node: str) -> str | None:
        """The sysfs directory of a device node (/dev/sda1, /dev/mapper/vg-root -> dm-0).

        By name first, so that a fake tree works with node names that do not exist here, then
        by the node's device number (names such as /dev/root)."""
        found = self.sysdir_of_name(os.path.basename(os.path.realpath(node)))
        if found:
            return found
        try:
            st = os.stat(node)
        except OSError:
            return None
        if not stat.S_ISBLK(st.st_mode):
            return None
        return self.sysdir_of_number(f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}")

    def whole_disk(self, sysdir: str) -> str:
        """The disk a partition belongs to; a disk is its own."""
        is_partition = os.path.exists(os.path.join(sysdir, "partition"))
        return os.path.dirname(sysdir) if is_partition else sysdir

    def partitions(self, disk: str) -> list[str]:
        try:
            names = sorted(os.listdir(disk))
        except OSError:
            return []
        return [os.path.join(disk, n) for n in names
                if os.path.exists(os.path.join(disk, n, "partition"))]

    def holders(self, sysdir: str) -> list[str]:
        """Names of the devices built on this one (dm-0, md127)."""
        try:
            return sorted(os.listdir(os.path.join(sysdir, "holders")))
        except OSError:
            return []

    def slaves(self, sysdir: str) -> list[str]:
        """sysfs directories of the devices this one is built on (for dm and md)."""
        directory = os.path.join(sysdir, "slaves")
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return []
        return [os.path.realpath(os.path.join(directory, n)) for n in names]

    def backing_file(self, sysdir: str) -> str | None:
        """The file a loop device reads and writes; None for other devices and free loops."""
        name = self.attribute(sysdir, "loop/backing_file")
        return name or None

    def mounts(self) -> list[Mount]:
        return [Mount(*entry) for entry in mount_table(self.mountinfo)]

    def swap_areas(self) -> list[str]:
        """Active swap devices and files, as /proc/swaps names them."""
        try:
            with open(self.swaps, "rb") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            return []
        names = []
        for line in lines:
            fields = line.split()
            if fields:
                # /proc/swaps escapes space, tab, newline and backslash like mountinfo does.
                names.append(unescape_octal(fields[0]))
        return names

    def sysdirs_of_path(self, path: str) -> set[str]:
        """The block device(s) holding the filesystem a path is on: its st_dev, and the
        source of the mount it is under (btrfs reports an anonymous st_dev)."""
        found: set[str] = set()
        real = os.path.realpath(path)
        try:
            st = os.stat(real)
            number = self.sysdir_of_number(f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
            if number:
                found.add(number)
        except OSError:
            pass
        best: Mount | None = None
        for mount in self.mounts():
            if _is_under(real, mount.point) and (best is None or len(mount.point) >= len(best.point)):
                best = mount
        if best is not None:
            found |= self.sysdirs_of_mount(best)
        return found

    def sysdirs_of_mount(self, mount: Mount) -> set[str]:
        found = set()
        by_number = self.sysdir_of_number(mount.number)
        if by_number:
            found.add(by_number)
        if mount.source.startswith("/"):
            by_node = self.sysdir_of_node(mount.source)
            if by_node:
                found.add(by_node)
        return found

    def disks_under(self, sysdir: str, _seen: set[str] | None = None) -> set[str]:
        """The disks that writing to this device (or what is on it) ends up on: its whole
        disk, the disks under its dm/md slaves, and the disks holding a loop's backing file."""
        seen = set() if _seen is None else _seen
        disk = self.whole_disk(sysdir)
        if disk in seen:
            return set()
        seen.add(disk)
        found = {disk}
        for slave in self.slaves(disk):
            found |= self.disks_under(slave, seen)
        backing = self.backing_file(disk)
        if backing:
            for holder in self.sysdirs_of_path(backing.removesuffix(" (deleted)")):
                found |= self.disks_under(holder, seen)
        return found

    def disks_holding(self, path: str) -> set[str]:
        """The disks a path's filesystem lives on, through dm, md and loop devices."""
        found: set[str] = set()
        for sysdir in self.sysdirs_of_path(path):
            found |= self.disks_under(sysdir)
        return found

    def same_storage(self, disk: str) -> set[str]:
        """The disk and, for a loop device, every loop device of the same file: writing to
        one writes the bytes the others read (partitions attached with an offset)."""
        backing = self.backing_file(disk)
        return {disk, *self.loops_backed_by(backing)} if backing else {disk}

    def loops_backed_by(self, image: str) -> list[str]:
        """sysfs directories of the loop devices that have the file `image` attached."""
        try:
            image_stat = os.stat(image)
        except OSError:
            return []
        found = []
        block = os.path.join(self.sys_root, "block")
        for name in sorted(os.listdir(block)) if os.path.isdir(block) else []:
            sysdir = os.path.realpath(os.path.join(block, name))
            backing = self.backing_file(sysdir)
            if not backing:
                continue
            try:
                st = os.stat(backing.removesuffix(" (deleted)"))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (image_stat.st_dev, image_stat.st_ino):
                found.append(sysdir)
        return found


def _is_under(path: str, point: str) -> bool:
    return point == "/" or path == point or path.startswith(point.rstrip("/") + "/")

