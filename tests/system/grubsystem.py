"""A minimal Debian 12 system with grub's tools, for restores whose finalize installs grub.

debootstrap (minbase, with grub-pc-bin, grub-efi-amd64-bin, grub2-common, and udev, whose
udevadm grub-probe asks where a partition starts) from Debian's mirror builds it once, in about
two and a half minutes here, into /var/tmp keyed by GRUB_SYSTEM_VERSION; later runs copy the
cached tree. What a boot-loader installation does not need (apt's caches and lists,
documentation, translations) is removed: about 150 MB stay.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

GRUB_SYSTEM_VERSION = "bookworm-minbase-grub-2"
CACHE = Path("/var/tmp/restore-console-grub-system")
MIRROR = "http://deb.debian.org/debian"
PACKAGES = "grub-pc-bin,grub-efi-amd64-bin,grub2-common,udev"
TRIMMED = ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
           "usr/share/info", "usr/share/locale")
KERNEL_VERSION = "6.1.0-99-amd64"  # a file named like a kernel: grub-mkconfig makes its entry


def grub_system() -> Path:
    """The cached system tree, built first when missing; skips the test, with the reason, where
    debootstrap or Debian's mirror is not at hand."""
    tree = CACHE / GRUB_SYSTEM_VERSION
    if (tree / ".complete").exists():
        return tree
    if shutil.which("debootstrap") is None:
        pytest.skip("needs debootstrap to build a system with grub (make test installs it)")
    CACHE.mkdir(parents=True, exist_ok=True)
    building = CACHE / f"{GRUB_SYSTEM_VERSION}.building-{os.getpid()}"
    started = time.monotonic()
    proc = subprocess.run(["debootstrap", "--variant=minbase", f"--include={PACKAGES}",
                           "bookworm", str(building), MIRROR], capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        pytest.skip(f"debootstrap could not build the grub system from {MIRROR}: "
                    f"{proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
    for part in TRIMMED:
        shutil.rmtree(building / part, ignore_errors=True)
    (building / ".complete").write_text(f"built in {time.monotonic() - started:.0f} s\n")
    try:
        building.rename(tree)
    except OSError:  # another session built it meanwhile
        shutil.rmtree(building, ignore_errors=True)
    return tree


def install_system(root: Path, fstab: str, grub_cfg: str, default_grub: str) -> None:
    """Copies the grub system into a mounted root filesystem and writes its configuration:
    fstab, the installed system's grub.cfg and /etc/default/grub, and a kernel-like file."""
    subprocess.run(["cp", "-a", f"{grub_system()}/.", str(root)], check=True)
    (root / ".complete").unlink()
    (root / "etc/fstab").write_text(fstab)
    (root / "etc/hostname").write_text("grubbed\n")
    (root / "etc/default").mkdir(exist_ok=True)
    (root / "etc/default/grub").write_text(default_grub)
    (root / "boot/grub").mkdir(parents=True, exist_ok=True)
    (root / "boot/grub/grub.cfg").write_text(grub_cfg)
    (root / f"boot/vmlinuz-{KERNEL_VERSION}").write_bytes(b"not a kernel: a name for grub")
