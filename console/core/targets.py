"""The disks a set can be restored onto, and what stands against each one, in words.

`block_devices()` is the one place that lists this machine's disks (from /sys/block); the disk
discovery of console.core.discovery replaces it when it lands. Disk-image files (the demo, tests)
are targets too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import humanize

from .blockdev import device_size
from .errors import RestoreError
from .layout import Disk
from .safety import check_target

# Not disks one restores onto: loop devices (images are named as files), RAM disks, optical drives.
_NOT_TARGETS = ("loop", "ram", "zram", "sr", "fd")


def _size(n: int) -> str:
    return humanize.naturalsize(n, binary=True)


@dataclass(frozen=True)
class TargetChoice:
    """A disk or disk-image file this machine could restore onto."""

    path: str  # /dev/sdb, or the image file
    size: int  # bytes
    kind: str  # "disk" | "image"
    model: str = ""
    serial: str = ""

    @property
    def name(self) -> str:
        """The short name the operator types to confirm: sdb, target-same-size.img."""
        return os.path.basename(self.path)

    def title(self) -> str:
        what = "disk-image file" if self.kind == "image" else (
            " ".join(filter(None, [self.model, f"serial {self.serial}" if self.serial else ""]))
            or "disk")
        return f"{self.name}  {_size(self.size)}  {what}"


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def block_devices(sys_block: str = "/sys/block") -> list[TargetChoice]:
    """Whole disks of this machine with a size, as the kernel lists them."""
    found = []
    for name in sorted(os.listdir(sys_block)):
        if name.startswith(_NOT_TARGETS):
            continue
        sectors = _read(os.path.join(sys_block, name, "size"))
        path = os.path.join("/dev", name.replace("!", "/"))
        if not sectors.isdigit() or int(sectors) == 0 or not os.path.exists(path):
            continue
        device = os.path.join(sys_block, name, "device")
        found.append(TargetChoice(path=path, size=int(sectors) * 512, kind="disk",
                                  model=_read(os.path.join(device, "model")),
                                  serial=_read(os.path.join(device, "serial"))))
    return found


def image_files(paths: list[str]) -> list[TargetChoice]:
    """Disk-image files that exist, as targets."""
    return [TargetChoice(path=p, size=device_size(p), kind="image")
            for p in paths if os.path.isfile(p)]


def size_problems(choice: TargetChoice, disk: Disk, *, writing: bool = True) -> list[str]:
    """Today a restore needs a target of the original's size; comparing, one at least as big."""
    if choice.size < disk.size:
        return [f"too small: {_size(choice.size)}, the original had {_size(disk.size)}"]
    if writing and choice.size > disk.size:
        return ["larger: resizing onto it comes with the disk-mapping editor"]
    return []


def problems(choice: TargetChoice, disk: Disk, set_path: str, *, writing: bool = True) -> list[str]:
    """Why choice cannot take the original disk, in words; empty when it can. Not `writing`
    (comparing a restored disk with the set) only the size matters."""
    found = size_problems(choice, disk, writing=writing)
    if not writing:
        return found
    try:
        check_target(choice.path, set_path)
    except RestoreError as exc:
        found.append(exc.message)
    return found
