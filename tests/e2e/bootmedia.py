"""A bootable ISO of the test bed's own (grub-mkrescue: BIOS and UEFI), so the firmware paths of
the machines (SeaBIOS, OVMF) can be checked without the rescue system's build."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

# grub-mkrescue's needs: its BIOS and UEFI images, xorriso to write the ISO, mtools for the EFI
# partition inside it.
GRUB_MKRESCUE_NEEDS = {"grub-mkrescue": "grub-common", "xorriso": "xorriso",
                       "mformat": "mtools"}
GRUB_PLATFORMS = {"/usr/lib/grub/i386-pc": "grub-pc-bin",
                  "/usr/lib/grub/x86_64-efi": "grub-efi-amd64-bin"}


def missing_for_boot_iso() -> list[str]:
    """The Debian packages a boot ISO needs that are not installed."""
    return ([package for tool, package in GRUB_MKRESCUE_NEEDS.items() if not shutil.which(tool)]
            + [package for path, package in GRUB_PLATFORMS.items() if not Path(path).is_dir()])


def make_boot_iso(dest: Path, *, kernel: Path, initrd: Path, append: str) -> Path:
    """An ISO whose GRUB (on the serial line, no menu delay) boots `kernel` with `initrd`."""
    with tempfile.TemporaryDirectory(prefix="e2e-iso-") as staging:
        root = Path(staging)
        (root / "boot/grub").mkdir(parents=True)
        shutil.copyfile(kernel, root / "boot/vmlinuz")
        shutil.copyfile(initrd, root / "boot/initrd")
        (root / "boot/grub/grub.cfg").write_text(
            "serial --unit=0 --speed=115200\n"
            "terminal_input serial\nterminal_output serial\n"
            "set timeout=0\n"
            f"menuentry e2e {{\n  linux /boot/vmlinuz {append}\n  initrd /boot/initrd\n}}\n")
        subprocess.run(["grub-mkrescue", "-o", str(dest), str(root)], check=True,
                       capture_output=True)
    return dest
