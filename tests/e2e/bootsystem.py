"""A small Debian 12 system that really boots, on a disk image, for the tests that restore a
machine and then boot it: the kernel (linux-image-amd64 with its initramfs), grub for BIOS and
UEFI, and instead of an init system a script (init=) that says on the serial line what it
booted from, checks the fstab and powers off: proof of grub, the kernel, the initramfs finding
the root and the fstab, in seconds under TCG.

Its fstab and grub configuration name the root by device path (/dev/vda1, as on a virtio disk),
which a restore onto another bus must rewrite. debootstrap builds the tree once (minutes) into
/var/tmp, keyed by a hash of the recipe; the disk images made from it are kept there too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.system.images import MiB, attached, blkid_of, mounted

CACHE = Path("/var/tmp/restore-console-boot-system")
MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
PACKAGES = ("linux-image-amd64", "grub-pc-bin", "grub-efi-amd64-bin", "grub2-common", "udev")
# Only the kernel modules a disk on virtio, AHCI, SCSI or NVMe and its ext4 or vfat need, with
# the modules they depend on: the whole tree is ten times as large, and every byte goes through the
# restore under TCG.
KEPT_MODULES = ("virtio_pci", "virtio_blk", "virtio_scsi", "ahci", "ata_piix", "ata_generic",
                "sd_mod", "sr_mod", "nvme", "ext4", "vfat", "nls_cp437", "nls_ascii",
                "nls_utf8", "nls_iso8859_1", "crc32c_generic", "crc32c_intel", "efivarfs")
TRIMMED = ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
           "usr/share/info", "usr/share/locale", "usr/share/zoneinfo", "usr/lib/udev/hwdb.bin",
           "usr/share/i18n")
MARKER = "restore-console-e2e: booted"
BOOTED = "/usr/local/sbin/booted"  # init= of the installed system
# What the system runs as its init: where its root came from, the fstab checked by
# findmnt (every device found, every mount point mountable), /boot/efi mounted as the fstab
# says, then the marker, and power off.
BOOTED_SCRIPT = f"""#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "restore-console-e2e: root $(awk '$2 == "/" {{ print $1 }}' /proc/mounts)"
echo "restore-console-e2e: cmdline $(cat /proc/cmdline)"
mount -o remount,rw /
if grep -q /boot/efi /etc/fstab; then
    mount /boot/efi && ls /boot/efi/EFI | sed 's/^/restore-console-e2e: ESP holds /'
fi
verified=$(findmnt --verify --tab-file /etc/fstab 2>&1) && echo "restore-console-e2e: fstab ok" \\
    || echo "restore-console-e2e: fstab wrong: $(echo "$verified" | tr '\\n' ' ')"
echo "{MARKER}"
sync
echo o >/proc/sysrq-trigger
sleep 30
"""
APPEND = "console=ttyS0,115200 panic=-1"
DEFAULT_GRUB = f"""GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="{APPEND} init={BOOTED}"
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_RECOVERY=true
GRUB_DISABLE_OS_PROBER=true
"""
RECIPE = {"version": 2, "suite": SUITE, "packages": PACKAGES, "kept": KEPT_MODULES,
          "trimmed": TRIMMED, "booted": BOOTED_SCRIPT}


def _key(recipe: object) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {proc.returncode}:\n"
                           f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc


def _in_chroot(root: Path, *argv: str) -> None:
    """argv in the tree, with /dev, /proc and /sys of this machine (unmounted afterwards)."""
    from console.core.applying.chroot import run_inside, system_mounts
    with system_mounts(str(root)):
        run_inside(str(root), list(argv), " ".join(argv))


def _trim_modules(tree: Path) -> None:
    """Deletes every module but KEPT_MODULES and what they need (the kernel's modules.dep)."""
    for modules in (tree / "lib/modules").iterdir():
        depends: dict[str, list[str]] = {}
        for line in (modules / "modules.dep").read_text().splitlines():
            module, _, needs = line.partition(":")
            depends[module] = needs.split()
        by_name = {Path(m).name.split(".ko")[0].replace("-", "_"): m for m in depends}
        kept: set[str] = set()
        todo = [by_name[name] for name in KEPT_MODULES if name in by_name]
        while todo:
            module = todo.pop()
            if module not in kept:
                kept.add(module)
                todo += depends[module]
        for path in sorted((modules / "kernel").rglob("*"), key=lambda p: -len(p.parts)):
            if path.is_file() and str(path.relative_to(modules)) not in kept:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()


def _built(path: Path, build) -> Path:
    """path, built by build(into) first when missing (into is renamed to path when done)."""
    if (path / ".complete").exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    building = CACHE / f"{path.name}.building-{os.getpid()}"
    started = time.monotonic()
    try:
        build(building)
        (building / ".complete").write_text(f"built in {time.monotonic() - started:.0f} s\n")
        building.rename(path)
    except OSError:  # another session built it meanwhile
        if not (path / ".complete").exists():
            raise
    finally:
        # Never through a mount left behind (a chroot's /dev): that would delete this machine's.
        with open("/proc/mounts") as f:
            left = [line.split()[1] for line in f if line.split()[1].startswith(f"{building}/")]
        if not left:
            shutil.rmtree(building, ignore_errors=True)
    return path


def _debootstrap(into: Path) -> None:
    if shutil.which("debootstrap") is None:
        pytest.skip("needs debootstrap to build a bootable system (make test installs it)")
    proc = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                           SUITE, str(into), MIRROR], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"debootstrap could not build the bootable system from {MIRROR}: "
                    f"{proc.stderr.strip().splitlines()[-1:] or proc.returncode}")


def boot_tree() -> Path:
    """The system's tree, built first when missing: debootstrap (about three minutes, kept as
    it is, keyed by the suite and the packages), then trimmed with its initramfs made again.
    Skips the test, with the reason, where debootstrap or Debian's mirror is not at hand."""
    base = _built(CACHE / f"debootstrap-{_key([SUITE, PACKAGES])}", _debootstrap)

    def build(building: Path) -> None:
        _run(["cp", "-a", f"{base}/.", str(building)])
        (building / ".complete").unlink()
        for part in TRIMMED:
            path = building / part
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        _trim_modules(building)
        booted = building / BOOTED.lstrip("/")
        booted.write_text(BOOTED_SCRIPT)
        booted.chmod(0o755)
        (building / "etc/hostname").write_text("booted\n")
        (building / "etc/default/grub").write_text(DEFAULT_GRUB)
        # The initramfs again, with the modules that are left: every storage driver kept.
        (building / "etc/initramfs-tools/conf.d/e2e").write_text("MODULES=most\n")
        version = kernel_version(building)
        _in_chroot(building, "depmod", "-a", version)
        _in_chroot(building, "update-initramfs", "-u", "-k", version)
    return _built(CACHE / f"tree-{_key(RECIPE)}", build)


def kernel_version(tree: Path) -> str:
    return next((tree / "lib/modules").iterdir()).name


def _copy_tree(tree: Path, root: Path) -> None:
    _run(["cp", "-a", f"{tree}/.", str(root)])
    (root / ".complete").unlink()


def _grub_cfg(version: str, root_device: str, search: str) -> str:
    """The installed system's grub.cfg, written by hand: the kernel's root by device path."""
    return ("serial --unit=0 --speed=115200\nterminal_input serial\nterminal_output serial\n"
            f"set timeout=0\n{search}"
            "menuentry 'Debian GNU/Linux' {\n"
            f"\tlinux /boot/vmlinuz-{version} root={root_device} ro {APPEND} init={BOOTED}\n"
            f"\tinitrd /boot/initrd.img-{version}\n}}\n")


BIOS_LAYOUT = {"version": 1, "mib": 448, "table": "label: dos\nsize=440MiB, type=83, bootable\n",
               "fstab": "/dev/vda1\t/\text4\terrors=remount-ro\t0\t1\n"
                        "proc\t/proc\tproc\tdefaults\t0\t0\n"}
UEFI_LAYOUT = {"version": 1, "mib": 640,
               "table": "label: gpt\nsize=34MiB, type=U\nsize=600MiB, type=L\n",
               "fstab": "/dev/vda2\t/\text4\terrors=remount-ro\t0\t1\n"
                        "/dev/vda1\t/boot/efi\tvfat\tumask=0077\t0\t1\n"}


def _cached_image(name: str, layout: dict, make) -> Path:
    image = CACHE / f"{name}-{_key([RECIPE, layout])}.img"
    if image.exists():
        return image
    tree = boot_tree()
    building = image.with_suffix(f".building-{os.getpid()}")
    with open(building, "wb") as f:
        f.truncate(layout["mib"] * MiB)
    try:
        _run(["sfdisk", "-q", str(building)], input=layout["table"])
        make(building, tree)
        building.rename(image)
    finally:
        building.unlink(missing_ok=True)
    return image


def bios_image() -> Path:
    """An msdos disk, one ext4 root (/dev/vda1 in fstab and on grub's kernel line), grub for
    BIOS in the boot code and the gap before the partition: read-only, the tests copy it."""
    def make(image: Path, tree: Path) -> None:
        with attached(image) as disk:
            _run(["mkfs.ext4", "-q", "-L", "booted-root", disk.partition(1)])
            with mounted(disk.partition(1)) as root:
                _copy_tree(tree, root)
                (root / "etc/fstab").write_text(BIOS_LAYOUT["fstab"])
                # The tree's own grub-install, through chroot as the finalize runs it.
                _in_chroot(root, "grub-install", "--target=i386-pc", disk.device)
                (root / "boot/grub/grub.cfg").write_text(
                    _grub_cfg(kernel_version(tree), "/dev/vda1", ""))
    return _cached_image("bios", BIOS_LAYOUT, make)


def uefi_image() -> Path:
    """A GPT disk: an EFI system partition (vfat, 34 MiB) with grub as the firmware's fallback
    loader EFI/BOOT/BOOTX64.EFI, and the ext4 root; fstab names both by device path, grub's
    kernel line the root. The ESP is written with mtools: this machine's kernel may lack vfat."""
    def make(image: Path, tree: Path) -> None:
        loader = image.with_name(image.name + ".BOOTX64.EFI")
        try:
            _make_uefi(image, tree, loader)
        finally:
            loader.unlink(missing_ok=True)

    def _make_uefi(image: Path, tree: Path, loader: Path) -> None:
        with attached(image) as disk:
            _run(["mkfs.vfat", "-I", "-n", "ESP", disk.partition(1)])
            _run(["mkfs.ext4", "-q", "-L", "booted-root", disk.partition(2)])
            root_uuid = blkid_of(disk.partition(2))["UUID"]
            with mounted(disk.partition(2)) as root:
                _copy_tree(tree, root)
                (root / "etc/fstab").write_text(UEFI_LAYOUT["fstab"])
                (root / "boot/efi").mkdir(exist_ok=True)
                # grub-install wants the ESP mounted: grub-mkimage makes the same loader, which
                # finds /boot/grub by the root's UUID.
                (root / "tmp/early.cfg").write_text(
                    f"search --no-floppy --fs-uuid --set=root {root_uuid}\n"
                    "set prefix=($root)/boot/grub\n")
                _in_chroot(root, "grub-mkimage", "-O", "x86_64-efi", "-c", "/tmp/early.cfg",
                           "-p", "/boot/grub", "-o", "/tmp/BOOTX64.EFI", "part_gpt", "part_msdos",
                           "ext2", "fat", "search_fs_uuid", "normal", "linux", "configfile",
                           "serial", "terminal", "echo", "all_video", "gzio")
                grub_dir = root / "boot/grub"
                grub_dir.mkdir(exist_ok=True)
                shutil.copytree(root / "usr/lib/grub/x86_64-efi", grub_dir / "x86_64-efi",
                                dirs_exist_ok=True)
                (grub_dir / "grub.cfg").write_text(_grub_cfg(kernel_version(tree), "/dev/vda2", ""))
                shutil.move(root / "tmp/BOOTX64.EFI", loader)
                (root / "tmp/early.cfg").unlink()
        # Through the image file, once the loop devices (and their caches) are gone.
        esp = f"{image}@@{1 * MiB}"
        _run(["mmd", "-i", esp, "::/EFI", "::/EFI/BOOT"])
        _run(["mcopy", "-i", esp, str(loader), "::/EFI/BOOT/BOOTX64.EFI"])
    return _cached_image("uefi", UEFI_LAYOUT, make)


def copy_image(image: Path, dest: Path) -> Path:
    """A writable copy of a cached image, sparse as it is."""
    _run(["cp", "--sparse=always", str(image), str(dest)])
    return dest


if __name__ == "__main__":  # build the cache ahead: python -m tests.e2e.bootsystem
    started = time.monotonic()
    print(bios_image(), uefi_image(), f"{time.monotonic() - started:.0f} s")
