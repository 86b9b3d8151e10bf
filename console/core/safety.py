"""Checks made right before the first write to a disk: never the wrong disk.

A target is refused when it is mounted (itself or any partition), when it holds the backup set
or the running system, or when it is read-only. For an image file, "it" means every loop device
that has the file attached, and their partitions.
"""

from __future__ import annotations

import glob
import os
import stat

from .blockdev import is_block_device, mount_table
from .errors import RestoreError


def _dev_number(path: str) -> str:
    st = os.stat(path)
    return f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"


def _sysfs_block(number: str) -> str | None:
    link = f"/sys/dev/block/{number}"
    return os.path.realpath(link) if os.path.exists(link) else None


def _disk_of(number: str) -> str | None:
    """The sysfs directory of the whole disk a device number belongs to."""
    path = _sysfs_block(number)
    if path is None:
        return None
    return os.path.dirname(path) if os.path.exists(os.path.join(path, "partition")) else path


def _loop_disks_backing(image: str) -> list[str]:
    """sysfs directories of loop devices (whole or per-partition) attached to image."""
    image = os.path.realpath(image)
    image_stat = os.stat(image)
    found = []
    for backing in glob.glob("/sys/block/loop*/loop/backing_file"):
        try:
            with open(backing) as f:
                name = f.read().strip()
            st = os.stat(name.removesuffix(" (deleted)"))
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (image_stat.st_dev, image_stat.st_ino):
            found.append(os.path.realpath(os.path.dirname(os.path.dirname(backing))))
    return found


def target_disks(target: str) -> list[str]:
    """sysfs directories of the disks that writing to target would write to."""
    if is_block_device(target):
        disk = _disk_of(_dev_number(target))
        return [disk] if disk else []
    return _loop_disks_backing(target)


def _disk_of_path(path: str) -> str | None:
    st = os.stat(path)
    return _disk_of(f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}")


def check_target(target: str, set_path: str) -> None:
    """Raises RestoreError if writing to target could destroy something it must not."""
    if not os.path.exists(target):
        raise RestoreError(f"The target {target} does not exist.",
                           "Name an existing disk or disk-image file.")
    if not is_block_device(target) and not stat.S_ISREG(os.stat(target).st_mode):
        raise RestoreError(f"The target {target} is neither a disk nor a disk-image file.")
    disks = set(target_disks(target))
    set_disk = _disk_of_path(set_path)
    if set_disk in disks:
        raise RestoreError(f"{target} holds the backup set being restored ({set_path}); "
                           "writing to it would destroy the backup.",
                           "Choose another target disk.")
    if _disk_of_path("/") in disks:
        raise RestoreError(f"{target} holds the running system; it cannot be overwritten.",
                           "Choose another target disk.")
    for number, point, source in mount_table():
        if _disk_of(number) in disks:
            raise RestoreError(f"{target} is in use: {source} is mounted at {point}.",
                               f"Unmount it first (umount {point}), or choose another target.")
    for disk in disks:
        try:
            with open(os.path.join(disk, "ro")) as f:
                if f.read().strip() == "1":
                    raise RestoreError(f"{target} is read-only.",
                                       "Check the disk's write-protect switch, or choose another.")
        except FileNotFoundError:
            pass

