"""Writing a set as ISO volumes (media/isolayout.py has the layout): the pieces in the order a
whole restore reads them, so that it takes the volumes in order, each once."""

from __future__ import annotations

import os

from ..events import Listener, ignore
from ..media.isolayout import SetPiece, seek_table_tail
from ..media.isowriter import IsoSetWriter, StagedPiece
from .manifest import BackupSet
from .tapeset import restore_order


def write_to_iso(backup_set: BackupSet, to: str, volume_size: int, *,
                 rescue: str | None = None, listener: Listener = ignore) -> list[str]:
    """Writes the set (complete in its directory) as ISO images into the directory `to`;
    returns their paths, volume 1 first."""
    pieces = []
    for piece in restore_order(backup_set):
        path = os.path.join(backup_set.path, piece.file)
        pieces.append(StagedPiece(SetPiece(piece.file, piece.size, piece.blake3,
                                           seek_table_tail(path)), path))
    return IsoSetWriter(to, backup_set.path, set_id=backup_set.set_id, host=backup_set.host,
                        created=backup_set.created, pieces=pieces, volume_size=volume_size,
                        rescue=rescue, listener=listener).write()
