"""Writing a set, staged in a directory, as a series of ISO 9660 images (isolayout.py has the
layout): xorriso maps each piece, or the byte range of it a part is (-cut_out), into the
image without copying it first. Volume 1 boots the rescue system when one is given: then
grub-mkrescue makes it (BIOS and UEFI), passing the same mappings on to xorriso.

What each volume's overhead is (directories, Rock Ridge and Joliet, padding, the boot setup)
is estimated, then measured: a volume that comes out larger than the volume size makes its
estimate grow by the excess, and the series is laid out and written again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass

from ..errors import RestoreError, UsageError
from ..events import Listener, Message, Progress, ignore
from ..system import require, run
from ..units import size as words_size
from .isolayout import (
    HEADER_FILE,
    Part,
    SetPiece,
    VolumeHeader,
    cut_into_volumes,
    sectors,
    set_label,
    volume_id,
)

TOOLS = ("xorriso", "grub-mkrescue")
MANIFEST, CATALOG = "manifest.json", "catalog.sqlite"
ISO_OVERHEAD = 1024 * 1024  # descriptors, path tables, directories, 300 KiB of padding
BOOT_OVERHEAD = 24 * 1024 * 1024  # grub-mkrescue's BIOS and EFI images and modules
HEADER_PER_PART = 160
ATTEMPTS = 5
RESCUE_COMMAND_LINE = ("console=tty0 console=ttyS0,115200 restore=interactive "
                       "restore.media=auto")
TOOLS_IMAGE = "restore-tools.squashfs"


@dataclass(frozen=True)
class StagedPiece:
    piece: SetPiece
    path: str  # where the writer reads it from


def check_rescue(directory: str) -> None:
    """--rescue DIR: the output of mkrescue --to DIR, with its kernel and initrd."""
    missing = [name for name in ("vmlinuz", "initrd.img")
               if not os.path.isfile(os.path.join(directory, name))]
    if missing:
        raise UsageError(f"--rescue {directory} has no {' and no '.join(missing)}.",
                         "Give the directory 'restore-console mkrescue --to DIR' made.")


class IsoSetWriter:
    """Writes the set staged in `directory` as DIR/LABEL-1.iso, -2.iso ... of at most
    `volume_size` bytes each."""

    def __init__(self, to: str, directory: str, *, set_id: str, host: str, created: str,
                 pieces: list[StagedPiece], volume_size: int, rescue: str | None = None,
                 listener: Listener = ignore):
        self.to, self.directory = to, directory
        self.set_id, self.host, self.created = set_id, host, created
        self.pieces, self.volume_size = pieces, volume_size
        self.rescue, self.listener = rescue, listener
        self.label = set_label(host, set_id)
        self._paths = {p.piece.name: p.path for p in pieces}

    def path_of(self, volume: int) -> str:
        return os.path.join(self.to, f"{self.label}-{volume}.iso")

    def write(self) -> list[str]:
        """Writes every volume; returns their paths, in order."""
        require("xorriso")
        if self.rescue:
            require("grub-mkrescue")
            check_rescue(self.rescue)
        os.makedirs(self.to, exist_ok=True)
        fixed = (sectors(os.path.getsize(os.path.join(self.directory, MANIFEST)))
                 + sectors(os.path.getsize(os.path.join(self.directory, CATALOG)))
                 + ISO_OVERHEAD
                 + sectors(len(self._header(1, 1, []).to_bytes())
                           + HEADER_PER_PART * (len(self.pieces) + 16)))
        extra = {1: self._rescue_size()} if self.rescue else {}
        for _ in range(ATTEMPTS):
            rooms = [self.volume_size - fixed - extra.get(v, 0)
                     for v in range(1, max(extra, default=1) + 2)]
            parts = cut_into_volumes([p.piece for p in self.pieces], rooms)
            count = parts[-1].volume if parts else 1
            progress = Progress(f"Writing the set as {count} ISO volumes into {self.to}",
                                bytes_total=sum(p.piece.size for p in self.pieces))
            written, over = [], {}
            for volume in range(1, count + 1):
                path = self._write_volume(volume, count, parts)
                written.append(path)
                made = os.path.getsize(path)
                progress.bytes_done += sum(p.size for p in parts if p.volume == volume)
                self.listener(progress)
                if made > self.volume_size:
                    over[volume] = made - self.volume_size
            if not over:
                for volume, path in enumerate(written, 1):
                    self.listener(Message(f"Volume {volume} of {count}: {path} "
                                          f"({words_size(os.path.getsize(path))})"))
                return written
            for path in written:
                os.unlink(path)
            for volume, excess in over.items():
                extra[volume] = extra.get(volume, 0) + sectors(excess) + 64 * 1024
        raise RestoreError(f"The ISO volumes keep coming out larger than "
                           f"{words_size(self.volume_size)}.", "Give a larger --volume-size.")

    def _header(self, volume: int, count: int, parts: list[Part]) -> VolumeHeader:
        return VolumeHeader(set_id=self.set_id, volume=volume, volumes=count,
                            pieces=[p.piece for p in self.pieces], parts=parts,
                            host=self.host, created=self.created, label=self.label)

    def _rescue_size(self) -> int:
        names = ["vmlinuz", "initrd.img", TOOLS_IMAGE]
        return BOOT_OVERHEAD + sum(sectors(os.path.getsize(os.path.join(self.rescue, n)))
                                   for n in names if os.path.isfile(os.path.join(self.rescue, n)))

    def _write_volume(self, volume: int, count: int, parts: list[Part]) -> str:
        path = self.path_of(volume)
        if os.path.exists(path):
            os.unlink(path)
        with tempfile.TemporaryDirectory(prefix="restore-console-volume-") as work:
            header = os.path.join(work, HEADER_FILE)
            with open(header, "wb") as f:
                f.write(self._header(volume, count, parts).to_bytes())
            mappings = ["-volid", volume_id(self.set_id, volume), "-volset_id", self.set_id,
                        "-publisher", "restore-console", "-application_id",
                        "RESTORE-CONSOLE BACKUP SET", "-joliet", "on",
                        "-map", header, "/" + HEADER_FILE]
            for name in (MANIFEST, CATALOG):
                mappings += ["-map", os.path.join(self.directory, name), "/" + name]
            for part in (p for p in parts if p.volume == volume):
                source = self._paths[part.piece]
                if part.file == part.piece:
                    mappings += ["-map", source, "/" + part.file]
                else:
                    mappings += ["-cut_out", source, str(part.offset), str(part.size),
                                 "/" + part.file]
            if volume == 1 and self.rescue:
                tree = self._boot_tree(work)
                run(["grub-mkrescue", "-o", path, tree, "--", *mappings],
                    f"make volume 1 of the set, with the rescue system, as {path}")
            else:
                run(["xorriso", "-outdev", path, *mappings, "-commit"],
                    f"make volume {volume} of the set as {path}")
        return path

    def _boot_tree(self, work: str) -> str:
        """The rescue system's files as grub-mkrescue takes them: boot/vmlinuz,
        boot/initrd.img, boot/grub/grub.cfg, the tools image (if any) at the root."""
        tree = os.path.join(work, "boot-tree")
        boot = os.path.join(tree, "boot")
        os.makedirs(os.path.join(boot, "grub"))
        for name in ("vmlinuz", "initrd.img"):
            _link_or_copy(os.path.join(self.rescue, name), os.path.join(boot, name))
        if os.path.isfile(os.path.join(self.rescue, TOOLS_IMAGE)):
            _link_or_copy(os.path.join(self.rescue, TOOLS_IMAGE), os.path.join(tree, TOOLS_IMAGE))
        command_line = RESCUE_COMMAND_LINE
        given = os.path.join(self.rescue, "pxe", "cmdline")
        if os.path.isfile(given):
            with open(given) as f:
                command_line = f.read().strip() or command_line
        with open(os.path.join(boot, "grub", "grub.cfg"), "w") as f:
            f.write(rescue_grub_cfg(command_line, f"{command_line} restore=expert"))
        return tree


def rescue_grub_cfg(command_line: str, expert_command_line: str) -> str:
    """The grub.cfg of a CD that boots the rescue system (mkrescue --iso, or volume 1 of a
    set): its menu on the screen and the serial line, the console first, then an expert shell."""
    return ("serial --unit=0 --speed=115200\n"
            "terminal_input console serial\nterminal_output console serial\n"
            "set timeout=5\n"
            'menuentry "restore-console" {\n'
            f"  linux /boot/vmlinuz {command_line}\n  initrd /boot/initrd.img\n}}\n"
            'menuentry "restore-console, expert shell" {\n'
            f"  linux /boot/vmlinuz {expert_command_line}\n"
            "  initrd /boot/initrd.img\n}\n")


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
