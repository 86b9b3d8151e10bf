"""Writing a set onto tape (media/tapeset.py has the layout): the pieces in the order a whole
restore reads them, so that it only moves forward on the tape."""

from __future__ import annotations

import os

from ..events import Listener, ignore
from ..layout import Piece, mount_order
from ..media.tapeset import DEFAULT_BLOCK_SIZE, TapeHeader, TapePiece, TapeSetWriter
from ..volumes.btrfs import creation_order
from .manifest import BackupSet


def restore_order(backup_set: BackupSet) -> list[Piece]:
    """As planning/plan.py's steps read them: per disk its boot area and its raw images, then
    the archived filesystems, parents before children (/ before /boot before /boot/efi) when
    the root is among them, the others after in set order; a btrfs's subvolumes after its
    top level."""
    pieces: list[Piece] = []
    for disk in backup_set.disks:
        if disk.boot_area is not None:
            pieces += disk.boot_area.pieces
        pieces += [p for fs in backup_set.filesystems_on(disk.name)
                   if fs.archive is not None and fs.archive.kind == "raw"
                   for p in fs.archive.pieces]
    tar = [fs for fs in backup_set.filesystems if fs.archive is not None
           and fs.archive.kind == "tar"]
    nested = mount_order(tar)
    if not any(fs.place == "/" for fs in nested):
        nested = []
    for fs in nested + [fs for fs in tar if fs not in nested]:
        # a btrfs: its top level, then its subvolumes in the order they are made again
        pieces += fs.archive.pieces
        pieces += [p for s in creation_order(fs.subvolumes) if s.archive
                   for p in s.archive.pieces]
    return pieces


def write_to_tape(backup_set: BackupSet, where: str, *, block_size: int = DEFAULT_BLOCK_SIZE,
                  obdr: str | None = None, capacity: int | None = None,
                  listener: Listener = ignore) -> int:
    """Writes the set (complete in its directory) onto the tape at where; returns how many
    volumes it took."""
    pieces = [TapePiece(p.file, p.size, p.blake3, os.path.join(backup_set.path, p.file))
              for p in restore_order(backup_set)]
    header = TapeHeader(set_id=backup_set.set_id, volume=1, block_size=block_size,
                        pieces=pieces, first=(0, 0), host=backup_set.host,
                        created=backup_set.created)
    return TapeSetWriter(where, header, backup_set.path, obdr=obdr, capacity=capacity,
                         listener=listener).write()
