"""mkrescue: the rescue system built in small ordered stages, each with one job (ReaR's way),
then packed; the kernel beside it, and the CD image and network-boot files if asked."""

from __future__ import annotations

import glob
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

from ..errors import RestoreError, UsageError
from . import binaries, boot, files, kmodules, python
from .image import RescueImage, tree_size
from .pack import pack_initramfs, pack_squashfs

SIZE_GOAL = 30 * 1024 * 1024  # the initramfs, compressed
TOOLS_IMAGE = "restore-tools.squashfs"  # the name init looks for on the media

Stage = Callable[[RescueImage], int]
# In order; each returns how many things it put in.
STAGES: tuple[tuple[str, Stage], ...] = (
    ("busybox applets", binaries.add_busybox),
    ("system tools", binaries.add_tools),
    ("python standard library", python.add_python),
    ("console and its packages", python.add_console),
    ("python compiled (.py dropped)", python.compile_python),
    ("kernel modules", kmodules.add_kernel_modules),
    ("terminfo entries", files.add_terminfo),
    ("init and /etc", files.add_etc_and_init),
    ("shared libraries", binaries.add_libraries),
    ("stripped ELF files", binaries.strip_shared_objects),
)
# With --tools-on-media, what these stages put in goes into the squashfs.
ON_MEDIA_STAGES = {"system tools", "python standard library", "console and its packages",
                   "python compiled (.py dropped)", "shared libraries", "stripped ELF files"}


@dataclass
class StageDone:
    name: str
    count: int
    seconds: float


@dataclass
class Rescue:
    directory: str
    kernel_version: str
    stages: list[StageDone] = field(default_factory=list)
    uncompressed: int = 0
    initramfs_size: int = 0
    tools_image_size: int = 0
    written: list[str] = field(default_factory=list)
    seconds: float = 0.0
    pxe_missing: list[str] = field(default_factory=list)  # iPXE loaders not found (--pxe)


def newest_debian_kernel() -> str:
    kernels = [k for k in glob.glob("/boot/vmlinuz-*")
               if os.path.isdir(f"/lib/modules/{kernel_version_of(k)}")]
    if not kernels:
        raise RestoreError("There is no kernel with its modules in /boot on this machine.",
                           "Install linux-image-amd64, or give one with --kernel.")
    return max(kernels, key=lambda k: version_key(kernel_version_of(k)))


def kernel_version_of(kernel: str) -> str:
    name = os.path.basename(kernel)
    return name[len("vmlinuz-"):] if name.startswith("vmlinuz-") else ""


def version_key(version: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", version)]


def build_rescue(directory: str, *, kernel: str | None = None, iso: bool = False,
                 tools_on_media: bool = False, command_line: list[str] = (),
                 pxe: bool = False, pxe_network: str | None = None,
                 progress: Callable[[StageDone], None] = lambda stage: None) -> Rescue:
    started = time.monotonic()
    kernel = kernel or newest_debian_kernel()
    version = kernel_version_of(kernel)
    if not os.path.isfile(kernel) or not os.path.isdir(f"/lib/modules/{version}"):
        raise UsageError(f"{kernel} is not a kernel with its modules in /lib/modules.",
                         "Give a /boot/vmlinuz-VERSION whose modules are installed.")
    os.makedirs(directory, exist_ok=True)
    rescue = Rescue(directory, version)
    with tempfile.TemporaryDirectory(prefix="rescue-", dir=directory) as work:
        image = RescueImage(os.path.join(work, "initrd"), version)
        tools = RescueImage(os.path.join(work, "tools"), version) if tools_on_media else None
        for name, stage in STAGES:
            begun = time.monotonic()
            target = tools if tools and name in ON_MEDIA_STAGES else image
            if name == "stripped ELF files" and tools:
                stage(image)  # the libraries of the initrd's own programs
            count = stage(target)
            done = StageDone(name, count, time.monotonic() - begun)
            rescue.stages.append(done)
            progress(done)
        rescue.uncompressed = tree_size(image.root)
        shutil.copyfile(kernel, os.path.join(directory, "vmlinuz"))
        initrd = os.path.join(directory, "initrd.img")
        rescue.initramfs_size = pack_initramfs(image.root, initrd)
        rescue.written += [os.path.join(directory, "vmlinuz"), initrd]
        tools_image = None
        if tools:
            tools_image = os.path.join(directory, TOOLS_IMAGE)
            rescue.tools_image_size = pack_squashfs(tools.root, tools_image)
            rescue.written.append(tools_image)
    kernel_copy = os.path.join(directory, "vmlinuz")
    boot.write_pxe(directory, kernel_copy, initrd, list(command_line))
    rescue.written.append(os.path.join(directory, "pxe"))
    if pxe:
        rescue.pxe_missing = boot.write_dnsmasq(directory, pxe_network)
        rescue.written.append(os.path.join(directory, "pxe", "dnsmasq.conf"))
    if iso:
        rescue.written.append(boot.write_iso(directory, kernel_copy, initrd, list(command_line),
                                             tools_image))
    rescue.seconds = time.monotonic() - started
    return rescue
