"""What a plan does to make the restored system boot: the finalize steps, and their words.

A restore copies what the set saved of the boot loader: an msdos disk's boot area (the boot
code before the table, and the gap up to the first partition where grub keeps its core image),
a BIOS boot partition or an EFI system partition saved as an image, byte for byte, and /boot's
files. Then, when the restored system has a root, it is finalized (applying/finalize.py): the
references to disks in its fstab, crypttab, grub's configuration and kernel command line are
rewritten where they changed; grub is installed again with the restored system's own
grub-install, for the firmware the set's boot loader was made for, when the set has grub
(/boot/grub and grub-install); the initramfs is rebuilt when asked; the log and the plan are
copied into it.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from ..backupset.browse import resolve
from ..backupset.catalog import Catalog
from ..backupset.manifest import BackupSet
from ..errors import RestoreError
from ..layout import Disk
from .resize import special_kind
from .steps import (
    Finalize,
    InstallBootLoader,
    MakeFilesystem,
    RebuildInitramfs,
    Restore,
    RewriteReferences,
    Step,
    WriteBootArea,
    WriteImage,
)

GRUB_INSTALL = ("/usr/sbin/grub-install", "/sbin/grub-install")
NOT_REINSTALLED = "Grub is not reinstalled and its configuration is not changed."
NO_ROOT = ("The set's root filesystem is not restored by this plan: nothing is rewritten, grub "
           "is not reinstalled.")


@dataclass(frozen=True)
class FinalizeOptions:
    """What the operator chose for the finalize: new UUIDs for the filesystems made anew (a
    clone beside its original), and rebuilding the initramfs (disks on another controller)."""

    new_uuids: bool = False
    rebuild_initramfs: bool = False


def _has(backup_set: BackupSet, catalog: Catalog, path: str) -> bool:
    try:
        fs, inner = resolve(backup_set, path)
    except (RestoreError, KeyError):
        return False
    return catalog.lookup(fs.id, inner) is not None


def has_grub(backup_set: BackupSet) -> bool:
    """The set's system had grub: /boot/grub, and grub-install to install it again with. (A
    set without its catalog cannot be restored; its plan is still shown.)"""
    if not os.path.exists(backup_set.catalog_path):
        return False
    with Catalog(backup_set.catalog_path) as catalog:
        return _has(backup_set, catalog, "/boot/grub") and any(
            _has(backup_set, catalog, path) for path in GRUB_INSTALL)


def boot_loader_step(backup_set: BackupSet,
                     mapped: dict[str, tuple[str, Disk]]) -> tuple[InstallBootLoader | None, str]:
    """The grub installation the restored system needs (mapped: original disk -> its target's
    path and new layout), or None and why not, in words."""
    found = backup_set.bootloader or {}
    kind, disk = found.get("kind", "none"), found.get("disk", "")
    if kind not in ("efi", "grub-bios", "bios-mbr"):
        return None, "The set found no boot loader on its disks: none is installed."
    if disk not in mapped:
        return None, (f"The boot disk {disk} is not restored by this plan: grub is not "
                      "reinstalled.")
    if not has_grub(backup_set):
        return None, ("The set's system has no grub (/boot/grub and grub-install): the boot "
                      "loader is not reinstalled.")
    target, layout = mapped[disk]
    by_number = {fs.partition: fs for fs in backup_set.filesystems if fs.disk == disk}
    kinds = {p.number: special_kind(p, by_number.get(p.number), layout.table)
             for p in layout.partitions}
    if kind == "efi":
        esp = next((n for n, k in kinds.items() if k == "esp"), None)
        if esp is None:
            return None, "The new layout has no EFI system partition: grub is not reinstalled."
        where = by_number[esp].mountpoint if esp in by_number and \
            by_number[esp].mountpoint.startswith("/") else "/boot/efi"
        return InstallBootLoader(target, firmware="efi", partition=esp,
                                 efi_directory=where), ""
    if layout.table == "gpt":
        bios_boot = next((n for n, k in kinds.items() if k == "bios_boot"), None)
        if bios_boot is None:
            return None, ("A GPT disk booted by BIOS needs a BIOS boot partition, and the new "
                          "layout has none: grub is not reinstalled.")
        return InstallBootLoader(target, firmware="bios", partition=bios_boot), ""
    return InstallBootLoader(target, firmware="bios", partition=0), ""


def finalize_steps(backup_set: BackupSet, mapped: dict[str, tuple[str, Disk]],
                   made: list[MakeFilesystem], has_root: bool,
                   options: FinalizeOptions) -> tuple[list[Step], str]:
    """The steps after the verify, and why grub is not reinstalled ("" when it is)."""
    if not has_root:
        return [Finalize(log=False)], NO_ROOT
    originals = {fs.id: fs.uuid for fs in backup_set.filesystems}
    renamed = {originals[s.fs]: s.uuid for s in made
               if originals.get(s.fs) and s.uuid and s.uuid != originals[s.fs]}
    steps: list[Step] = [RewriteReferences(uuids=renamed)]
    install, why_not = boot_loader_step(backup_set, mapped)
    if install is not None:
        steps.append(install)
    if options.rebuild_initramfs:
        steps.append(RebuildInitramfs())
    steps.append(Finalize(log=True))
    return steps, why_not


def can_rebuild_initramfs(steps: list[Step]) -> bool:
    """The plan finalizes a restored root, in which an initramfs can be rebuilt."""
    return any(isinstance(s, RewriteReferences) for s in steps)


def with_initramfs_rebuilt(steps: list[Step], rebuilt: bool) -> list[Step]:
    """The steps with the initramfs rebuilt before the last step (the log's copy), or not:
    what the review's key and --rebuild-initramfs choose."""
    kept = [s for s in steps if not isinstance(s, RebuildInitramfs)]
    if rebuilt and can_rebuild_initramfs(kept):
        kept.insert(len(kept) - 1, RebuildInitramfs())
    return kept


def boot_loader_lines(layouts: dict[str, Disk], steps: list[Step], why_not: str = "") -> list[str]:
    """What is copied of the boot loader onto each target (layouts: target path -> its new
    layout), and what the finalize does to make it boot, one line each, indented for the
    plan's text."""
    images = {(s.target, s.partition) for s in steps if isinstance(s, WriteImage)}
    boot_areas = {s.target for s in steps if isinstance(s, WriteBootArea)}
    installed = next((s for s in steps if isinstance(s, InstallBootLoader)), None)
    lines = []
    for target, layout in layouts.items():
        copied, missing = [], []
        if target in boot_areas:
            copied.append("the MBR boot code and the gap up to the first partition")
        for part in sorted(layout.partitions, key=lambda p: p.number):
            kind = special_kind(part, None, layout.table)
            if kind == "bios_boot":
                if (target, part.number) in images:
                    copied.append(f"the BIOS boot partition ({part.number})")
                else:
                    missing.append(f"the BIOS boot partition ({part.number}) is left empty: "
                                   "the set has no image of it")
                if target not in boot_areas and installed is None:
                    missing.append("the boot code of the first sector is not in the set (a GPT "
                                   "disk): BIOS cannot start grub from this disk until "
                                   "grub-install is run")
            elif kind == "esp" and (target, part.number) in images:
                copied.append(f"the EFI system partition ({part.number})")
        said = missing
        if len(copied) == 1 and target not in boot_areas:  # the boot area is two things
            said = [f"{copied[0]} is copied as it was"] + missing
        elif copied:
            listed = copied[0] if len(copied) == 1 else \
                f"{', '.join(copied[:-1])} and {copied[-1]}"
            said = [f"{listed} are copied as they were"] + missing
        lines.append(f"  {target}: "
                     + ("; ".join(said) or "nothing of a boot loader was saved from this disk"))
    if any(isinstance(s, Restore) for s in steps):
        lines.append("  Grub's files in /boot come back with the filesystem that holds them.")
    number = {id(s): n for n, s in enumerate(steps, start=1)}
    rewrite = next((s for s in steps if isinstance(s, RewriteReferences)), None)
    if rewrite is not None:
        lines.append(f"  Step {number[id(rewrite)]}: references to disks that changed are "
                     "rewritten (device paths become UUID=" + (", and the new UUIDs replace "
                                                               "the old" if rewrite.uuids else "")
                     + "); each change goes to the log.")
    if installed is not None:
        lines.append(f"  Step {number[id(installed)]}: grub is installed again, for "
                     f"{'UEFI' if installed.firmware == 'efi' else 'BIOS'}, with the restored "
                     "system's own grub-install, and its configuration made again "
                     "(update-grub).")
    elif why_not:
        lines.append("  " + why_not)
    elif rewrite is None:  # a plan saved before the finalize steps: it changes nothing
        lines.append("  " + NOT_REINSTALLED)
    with contextlib.suppress(StopIteration):
        rebuild = next(s for s in steps if isinstance(s, RebuildInitramfs))
        lines.append(f"  Step {number[id(rebuild)]}: the initramfs is rebuilt.")
    if rewrite is not None and not any(isinstance(s, RebuildInitramfs) for s in steps):
        lines.append("  The initramfs is not rebuilt (--rebuild-initramfs rebuilds it, for "
                     "disks on another kind of controller).")
    return lines
