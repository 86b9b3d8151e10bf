"""What a plan does to the boot loader, in words, for the plan's text and the review.

A restore copies what the set saved of the boot loader and nothing more: an msdos disk's boot
area (the boot code before the table, and the gap up to the first partition where grub keeps
its core image), a BIOS boot partition or an EFI system partition saved as an image, byte for
byte, and /boot's files. It does not run grub-install, does not rewrite grub's configuration
and does not touch the firmware's boot entries. A GPT disk's first sector is not in the set: on
a GPT disk booted by BIOS, grub's boot code there is not restored.
"""

from __future__ import annotations

from ..layout import Disk
from .resize import special_kind
from .steps import Restore, Step, WriteBootArea, WriteImage

NOT_REINSTALLED = "Grub is not reinstalled and its configuration is not changed."


def boot_loader_lines(layouts: dict[str, Disk], steps: list[Step]) -> list[str]:
    """What is copied of the boot loader onto each target (layouts: target path -> its new
    layout) and what is not done, one line each, indented for the plan's text."""
    images = {(s.target, s.partition) for s in steps if isinstance(s, WriteImage)}
    boot_areas = {s.target for s in steps if isinstance(s, WriteBootArea)}
    lines, efi = [], False
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
                if target not in boot_areas:
                    missing.append("the boot code of the first sector is not in the set (a GPT "
                                   "disk): BIOS cannot start grub from this disk until "
                                   "grub-install is run")
            elif kind == "esp" and (target, part.number) in images:
                copied.append(f"the EFI system partition ({part.number})")
                efi = True
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
    lines.append("  " + NOT_REINSTALLED + (" The firmware's EFI boot entries are not changed."
                                           if efi else ""))
    return lines
