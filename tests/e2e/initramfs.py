"""Small initramfs images for the virtual machines of the e2e tests: busybox (static), an init
script and chosen kernel modules with their dependencies, packed with cpio (newc). Independent of
the rescue system's own build, so the test bed can be checked on its own."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

BUSYBOX = Path("/bin/busybox")

# Enough to see disks on virtio, AHCI, virtio-scsi and NVMe, CD drives, and reach the
# host over virtio-net: what the harness's own tests and most media tests need.
STORAGE_MODULES = ("virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net", "ahci", "sd_mod",
                   "sr_mod", "nvme")

# The init of the test images: mounts the kernel's file systems, inserts the modules listed in
# /etc/modules.order (dependencies first), says it is ready and gives a shell on the console.
# `poweroff -f` after the shell ends: with -no-reboot QEMU then exits.
SHELL_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
while read -r module; do insmod "$module" || echo "e2e: insmod $module failed"; done \\
    </etc/modules.order
mdev -s
dmesg -n 1  # the kernel's messages stay in dmesg, out of the commands' output
read -r uptime idle </proc/uptime
echo "e2e: ready, $uptime s after the kernel started"
setsid cttyhack sh -l
poweroff -f
"""


@dataclass(frozen=True)
class Kernel:
    version: str
    vmlinuz: Path
    modules: Path  # /lib/modules/<version>

    @classmethod
    def installed(cls) -> Kernel | None:
        """The newest kernel in /boot that has its modules installed, or None."""
        found = []
        for vmlinuz in Path("/boot").glob("vmlinuz-*"):
            version = vmlinuz.name.removeprefix("vmlinuz-")
            modules = Path("/lib/modules") / version
            if (modules / "modules.dep").is_file() and os.access(vmlinuz, os.R_OK):
                found.append(cls(version, vmlinuz, modules))
        return max(found, key=lambda k: _version_key(k.version), default=None)


def _version_key(version: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"[.-]", version)]


def module_files(kernel: Kernel, names: Iterable[str]) -> list[Path]:
    """The module files to insert for `names`, each after the modules it needs, each once
    (modprobe --show-depends resolves them; built-in modules need no file)."""
    ordered: dict[Path, None] = {}
    for name in names:
        shown = subprocess.run(
            ["modprobe", "--set-version", kernel.version, "--show-depends", name],
            capture_output=True, text=True, check=True).stdout
        for line in shown.splitlines():
            if line.startswith("insmod "):
                ordered[Path(line.split()[1])] = None
    return list(ordered)


def build_initramfs(dest: Path, *, kernel: Kernel, init: str = SHELL_INIT,
                    modules: Iterable[str] = STORAGE_MODULES, available: Iterable[str] = (),
                    files: Mapping[str, bytes | Path] | None = None,
                    compress: str | None = None) -> Path:
    """Writes an initramfs to `dest`: busybox as /bin/busybox, `init` as /init, the modules
    (with their dependencies, in load order in /etc/modules.order, with a modules.dep that
    busybox modprobe reads) and `files` (path in the image -> content or host file).
    `available` modules are in the image for modprobe, not inserted at boot.
    `compress` is None (fastest to unpack under TCG) or "zstd" / "gzip"."""
    with tempfile.TemporaryDirectory(prefix="e2e-initramfs-") as staging:
        root = Path(staging)
        for directory in ("bin", "sbin", "dev", "proc", "sys", "etc", "tmp", "mnt", "run",
                          "root"):
            (root / directory).mkdir()
        shutil.copy2(BUSYBOX, root / "bin/busybox")
        _write(root / "init", init, mode=0o755)
        if os.geteuid() == 0:  # else the init opens /dev/console itself once devtmpfs is there
            os.mknod(root / "dev/console", 0o600 | 0o020000, os.makedev(5, 1))
        inserted = module_files(kernel, modules)
        for module in [*inserted, *module_files(kernel, available)]:
            inside = root / module.relative_to("/")
            inside.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(module, inside)
        _write(root / "etc/modules.order", "".join(f"{m}\n" for m in inserted))
        if (root / "lib/modules").exists():
            for index in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
                if (kernel.modules / index).exists():
                    shutil.copy2(kernel.modules / index, root / f"lib/modules/{kernel.version}")
            subprocess.run(["depmod", "-b", str(root), kernel.version], check=True)
        for path, content in (files or {}).items():
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                shutil.copy2(content, target)
            else:
                _write(target, content, mode=0o755 if content.startswith(b"#!") else 0o644)
        _pack(root, dest, compress)
    return dest


def _write(path: Path, content: str | bytes, mode: int = 0o644) -> None:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    path.chmod(mode)


def _pack(root: Path, dest: Path, compress: str | None) -> None:
    names = subprocess.run(["find", ".", "-mindepth", "1"], cwd=root, capture_output=True,
                           check=True).stdout
    archive = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"], cwd=root,
                             input=names, capture_output=True, check=True).stdout
    if compress:
        archive = subprocess.run([compress, "-c", "-q"], input=archive, capture_output=True,
                                 check=True).stdout
    dest.write_bytes(archive)
