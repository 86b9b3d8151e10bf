"""Checks made right before the first write to a disk: never the wrong disk.

A target is refused when it holds the backup set or the running system, when it is in use
(itself or any partition mounted, active swap, or held by a device-mapper or md device), or when
it is read-only. For an image file, "it" means every loop device that has the file attached,
and their partitions. Writing through dm, md and loop devices is followed down to the disks:
a set on an LVM volume, or in an image file on a disk, is held by that disk.

`usage_of` gathers these facts for a set of disks; discovery shows them for every disk, and
`check_target` refuses with the first of them.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass, field

from ..errors import RestoreError
from .blockdev import is_block_device
from .sysblock import Host


@dataclass(frozen=True)
class InUse:
    """One reason a disk is busy: `what` reads "/dev/sdb1 is mounted at /mnt"."""

    what: str
    hint: str
    kind: str  # mount | swap | holder
    mount_point: str = ""  # for a mount: where, for the command that unmounts it


@dataclass
class Usage:
    """What writing to a disk would destroy or disturb; nothing set means safe."""

    holds_media: bool = False
    holds_system: bool = False
    in_use: list[InUse] = field(default_factory=list)
    read_only: bool = False


def target_disks(target: str, host: Host = Host()) -> list[str]:
    """sysfs directories of the disks that writing to target would write to."""
    if is_block_device(target):
        sysdir = host.sysdir_of_node(target)
        return sorted(host.same_storage(host.whole_disk(sysdir))) if sysdir else []
    return host.loops_backed_by(target)


def _inside(path: str, directory: str) -> bool:
    path, directory = os.path.realpath(path), os.path.realpath(directory)
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def usage_of(disks: set[str], set_path: str | None, host: Host = Host(),
             image: str | None = None) -> Usage:
    """The facts about `disks` (sysfs directories) that make writing to them unsafe.

    `image` is the image file these disks are the loop devices of, if any: an image inside
    the set's directory counts as holding the set."""
    usage = Usage()
    if set_path is not None:
        usage.holds_media = bool(disks & host.disks_holding(set_path)) or (
            image is not None and _inside(image, set_path))
    usage.holds_system = bool(disks & host.disks_holding("/"))
    for mount in host.mounts():
        under = set()
        for sysdir in host.sysdirs_of_mount(mount):
            under |= host.disks_under(sysdir)
        if under & disks:
            usage.in_use.append(InUse(
                f"{mount.source} is mounted at {mount.point}",
                f"Unmount it first (umount {mount.point}), or choose another target.", "mount",
                mount.point))
    for area in host.swap_areas():
        sysdir = host.sysdir_of_node(area)
        sysdirs = {sysdir} if sysdir else host.sysdirs_of_path(area)  # a swap file
        if any(host.disks_under(s) & disks for s in sysdirs):
            usage.in_use.append(InUse(
                f"{area} is active swap",
                f"Turn it off first (swapoff {area}), or choose another target.", "swap"))
    for disk in sorted(disks):
        for part in [disk, *host.partitions(disk)]:
            for holder in host.holders(part):
                usage.in_use.append(InUse(
                    f"{os.path.basename(part)} is held by {_holder_title(host, holder)}",
                    "Stop what uses it first (LVM: vgchange -an; RAID: mdadm --stop), "
                    "or choose another target.", "holder"))
    usage.read_only = any(host.attribute(disk, "ro") == "1" for disk in disks)
    return usage


def _holder_title(host: Host, holder: str) -> str:
    """dm-0 (vg-root), md127 (md/home), or just the kernel's name."""
    sysdir = host.sysdir_of_name(holder)
    name = (host.attribute(sysdir, "dm/name") or host.attribute(sysdir, "md/array_name")
            if sysdir else None)
    return f"{holder} ({name})" if name else holder


def refusals(target: str, usage: Usage, set_path: str | None) -> list[RestoreError]:
    """Every reason to refuse writing to target, gravest first, each with what to do."""
    found = []
    if usage.holds_media:
        found.append(RestoreError(
            f"{target} holds the backup set being restored ({set_path}); "
            "writing to it would destroy the backup.", "Choose another target disk."))
    if usage.holds_system:
        found.append(RestoreError(f"{target} holds the running system; it cannot be overwritten.",
                                  "Choose another target disk."))
    for use in usage.in_use:
        found.append(RestoreError(f"{target} is in use: {use.what}.", use.hint))
    if usage.read_only:
        found.append(RestoreError(f"{target} is read-only.",
                                  "Check the disk's write-protect switch, or choose another."))
    return found


# The directories restore.py and blockdev.mounted make for their mounts, in the temp directory.
OUR_MOUNT_PREFIXES = ("restore-console-target-", "restore-console-mnt-")


def our_mount_root(point: str, temp_dir: str | None = None) -> str | None:
    """The directory of ours a mount point is in (/tmp/restore-console-target-x for
    /tmp/restore-console-target-x/srv/data), or None for anybody else's mount."""
    temp_dir = os.path.realpath(temp_dir or tempfile.gettempdir())
    if not point.startswith(temp_dir.rstrip("/") + "/"):
        return None
    first = point[len(temp_dir.rstrip("/")) + 1:].split("/")[0]
    return os.path.join(temp_dir, first) if first.startswith(OUR_MOUNT_PREFIXES) else None


def check_leftovers(target: str, host: Host = Host(), temp_dir: str | None = None) -> None:
    """Refuses, with the exact commands that clean up, a target still mounted by a restore of
    ours that was killed before it could unmount (Ctrl-C and errors do unmount). Nothing is
    unmounted here: another console could still be running."""
    if not os.path.exists(target):
        return
    disks = set(target_disks(target, host))
    roots: list[str] = []
    seen: list[str] = []
    for mount in host.mounts():
        root = our_mount_root(mount.point, temp_dir)
        if root is None:
            continue
        under = set()
        for sysdir in host.sysdirs_of_mount(mount):
            under |= host.disks_under(sysdir)
        if under & disks:
            seen.append(f"{mount.source} at {mount.point}")
            if root not in roots:
                roots.append(root)
    if not roots:
        return
    commands = [f"umount -R {root}" for root in roots]
    if not is_block_device(target):
        commands += [f"losetup -d /dev/{os.path.basename(loop)}"
                     for loop in host.loops_backed_by(target)]
    raise RestoreError(
        f"{target} is still mounted by an earlier restore that was stopped without cleaning "
        f"up: {', '.join(seen)}. Nothing was written.",
        "If no other restore-console is running, clean up with: " + "; ".join(commands)
        + " - then run the restore again: it resumes where it stopped.")


def check_target(target: str, set_path: str, host: Host = Host()) -> None:
    """Raises RestoreError if writing to target could destroy something it must not."""
    if not os.path.exists(target):
        raise RestoreError(f"The target {target} does not exist.",
                           "Name an existing disk or disk-image file.")
    if not is_block_device(target) and not stat.S_ISREG(os.stat(target).st_mode):
        raise RestoreError(f"The target {target} is neither a disk nor a disk-image file.")
    check_leftovers(target, host)
    image = None if is_block_device(target) else target
    usage = usage_of(set(target_disks(target, host)), set_path, host, image=image)
    found = refusals(target, usage, set_path)
    if found:
        raise found[0]
