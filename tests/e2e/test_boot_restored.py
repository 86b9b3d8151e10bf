"""A restored machine boots: a real Debian 12 system (kernel, initramfs, grub; tests/e2e/
bootsystem.py) whose fstab and grub name its root by device path (/dev/vda1 on virtio) is backed
up on the host, restored by the rescue system in nuke mode onto a disk on another bus (AHCI:
/dev/sda), finalized there (the device paths become UUID=, grub installed again with the
restored system's own grub-install), and then the restored disk alone is booted by the firmware,
no -kernel: its init says what it booted from on the serial line.

BIOS onto a larger disk (msdos, grub in the boot code); UEFI onto a smaller disk its data fits
on (GPT, an EFI system partition), with the rescue system itself under UEFI so that the
firmware's boot entry is set, and the restored disk booted with fresh firmware variables, by the
fallback loader EFI/BOOT/BOOTX64.EFI."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.bootsystem import MARKER, bios_image, copy_image, uefi_image
from tests.e2e.rescuevm import rescue_machine
from tests.e2e.vm import OVMF_CODE, Disk, Machine
from tests.system.clitool import cli_backup
from tests.system.images import MiB, attached, blkid_of, mounted, sfdisk_json

pytestmark = pytest.mark.system  # loop devices and mount on the host

RESTORE_TIMEOUT = 1200  # the whole nuke restore of about 200 MB under TCG on shared cores
BOOT_TIMEOUT = 300  # firmware, grub, kernel and initramfs to the marker
NUKE = "restore=nuke restore.after=poweroff"


def blank(path: Path, mib: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(mib * MiB)
    return path


def set_disk_for(source: Path, base: Path) -> Path:
    """An ext4 disk (no table) with the source's set, made by `restore-console backup`, at its
    root, where the rescue system's init finds it by itself."""
    made = cli_backup(source, base / "set")
    used = sum(f.stat().st_size for f in made.iterdir())
    # Not the size of any other disk of the machine: nuke mode must see one target only.
    set_disk = blank(base / "setdisk.img", used // MiB + 48)
    subprocess.run(["mkfs.ext4", "-q", "-L", "sets", str(set_disk)], check=True)
    with mounted(str(set_disk)) as media:
        subprocess.run(["cp", "-a", f"{made}/.", str(media)], check=True)
    return set_disk


def nuke_restore(machine: Machine) -> str:
    """Runs the rescue system in nuke mode to the end; what it printed from nuke mode on."""
    started = time.monotonic()
    with machine.running() as vm:
        vm.console.wait_for("restore-console: nuke mode, the set", timeout=BOOT_TIMEOUT)
        vm.console.wait_for("restore-console: nuke mode done.", timeout=RESTORE_TIMEOUT)
        vm.console.wait_for("restore-console: poweroff now", timeout=120)
        vm.wait_exit(timeout=120)
        # As the console read it off the socket: QEMU's serial.log can repeat a few bytes
        # where the socket took a write in parts.
        said = vm.console.transcript.text
    print(f"\nnuke restore in the rescue system: {time.monotonic() - started:.0f} s")
    return said.split("restore-console: nuke mode, the set", 1)[1]


def boot_alone(disk: Path, workdir: Path, firmware: str) -> str:
    """Boots the disk alone on AHCI from the firmware (no -kernel); the serial log once the
    restored system said it booted and powered off."""
    started = time.monotonic()
    machine = Machine(workdir=workdir, firmware=firmware, memory_mib=512,
                      disks=[Disk(disk, interface="ahci", boot=True)])
    with machine.running() as vm:
        vm.console.wait_for(MARKER, timeout=BOOT_TIMEOUT)
        vm.wait_exit(timeout=120)
        said = vm.console.transcript.text
    print(f"boot of the restored disk ({firmware}): {time.monotonic() - started:.0f} s")
    return said


def read_files(image: Path, number: int, *paths: str) -> list[str]:
    with attached(image, read_only=True) as disk, \
            mounted(disk.partition(number), "ext4", "ro,noload") as root:
        return [(root / p.lstrip("/")).read_text() for p in paths]


def assert_booted_by_uuid(booted: str, root_uuid: str) -> None:
    """The restored system's own words: its root on the AHCI disk, found by its UUID on the
    kernel line grub gave, and every fstab entry found."""
    assert "restore-console-e2e: root /dev/sda" in booted, booted[-3000:]
    cmdline = re.search(r"restore-console-e2e: cmdline (.*)", booted)[1]
    assert f"root=UUID={root_uuid} " in cmdline
    assert "/dev/vd" not in cmdline
    assert "restore-console-e2e: fstab ok" in booted, booted[-3000:]


def test_a_bios_system_restored_onto_a_larger_disk_on_another_bus_boots(
        rescue_system, tmp_path):
    source = copy_image(bios_image(), tmp_path / "source.img")
    set_disk = set_disk_for(source, tmp_path)
    target = blank(tmp_path / "target.img", 640)
    machine = rescue_machine(Path(rescue_system.directory), tmp_path / "rescue",
                             [Disk(set_disk), Disk(target, interface="ahci")], NUKE)
    said = nuke_restore(machine)
    with attached(target, read_only=True) as disk:
        root_uuid = blkid_of(disk.partition(1))["UUID"]
    assert f"Rewritten: /etc/fstab line 1: /dev/vda1 -> UUID={root_uuid}" in said
    assert "Boot: grub installed for BIOS on" in said
    fstab, grub_cfg = read_files(target, 1, "/etc/fstab", "/boot/grub/grub.cfg")
    assert fstab.startswith(f"UUID={root_uuid}\t/\text4")
    # Made again in the rescue system by the restored update-grub; nothing names a device.
    assert "### BEGIN /etc/grub.d/10_linux ###" in grub_cfg
    assert "/dev/sd" not in grub_cfg and "/dev/vd" not in grub_cfg
    assert sfdisk_json(target)["partitiontable"]["partitions"][0]["size"] * 512 > 440 * MiB
    booted = boot_alone(target, tmp_path / "booted", "bios")
    assert_booted_by_uuid(booted, root_uuid)


def esp_file(image: Path, offset: int, path: str) -> bytes:
    """A file of the EFI system partition at offset, read with mtools (no vfat needed here)."""
    return subprocess.run(["mtype", "-i", f"{image}@@{offset}", f"::{path}"],
                          capture_output=True, check=True).stdout


@pytest.mark.skipif(not OVMF_CODE.exists(), reason=f"needs {OVMF_CODE} (Debian package ovmf)")
def test_a_uefi_system_restored_onto_a_smaller_disk_boots_by_its_fallback_loader(
        rescue_system, tmp_path):
    source = copy_image(uefi_image(), tmp_path / "source.img")
    set_disk = set_disk_for(source, tmp_path)
    target = blank(tmp_path / "target.img", 400)
    machine = dataclasses.replace(
        rescue_machine(Path(rescue_system.directory), tmp_path / "rescue",
                       [Disk(set_disk), Disk(target, interface="ahci")], NUKE),
        firmware="uefi")
    said = nuke_restore(machine)
    with attached(target, read_only=True) as disk:
        root_uuid = blkid_of(disk.partition(2))["UUID"]
        esp_uuid = blkid_of(disk.partition(1))["UUID"]
    table = sfdisk_json(target)["partitiontable"]
    assert table["lastlba"] * table["sectorsize"] < 400 * MiB
    assert f"Rewritten: /etc/fstab line 1: /dev/vda2 -> UUID={root_uuid}" in said
    assert f"Rewritten: /etc/fstab line 2: /dev/vda1 -> UUID={esp_uuid}" in said
    assert "Boot: grub installed for UEFI in EFI/debian and EFI/BOOT/BOOTX64.EFI" in said
    # The rescue ran under UEFI: the firmware's entry for the new grub is in its variables.
    assert "firmware boot entry debian set to \\EFI\\debian\\grubx64.efi" in said
    variables = (machine.workdir / "OVMF_VARS.fd").read_bytes()
    assert "debian".encode("utf-16-le") in variables
    assert "\\EFI\\debian\\grubx64.efi".encode("utf-16-le") in variables
    # grub-install wrote the fallback loader anew (the source's was made by grub-mkimage).
    esp_start = table["partitions"][0]["start"] * table["sectorsize"]
    assert esp_file(target, esp_start, "/EFI/BOOT/BOOTX64.EFI") != \
        esp_file(source, 1 * MiB, "/EFI/BOOT/BOOTX64.EFI")
    assert esp_file(target, esp_start, "/EFI/debian/grubx64.efi")
    # Fresh firmware variables (a machine of its own): no boot entry, only the fallback.
    booted = boot_alone(target, tmp_path / "booted", "uefi")
    assert_booted_by_uuid(booted, root_uuid)
    assert "restore-console-e2e: ESP holds BOOT" in booted
