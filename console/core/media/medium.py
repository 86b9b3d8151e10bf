"""A set is read through its medium: its manifest and catalog from a directory, its archive
pieces from a file that can be read anywhere (a directory) or only in order (a tape)."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from typing import BinaryIO, Protocol

from ..events import Listener


class SetMedium(Protocol):
    where: str  # the SET as the operator gave it
    directory: str  # holds manifest.json and catalog.sqlite (for a tape: a copy read from it)

    def piece_path(self, name: str) -> str | None:
        """The piece as a file that can be read at any place; None: it is read in order only,
        through open_piece."""

    def open_piece(self, name: str, listener: Listener) -> AbstractContextManager[BinaryIO]:
        """The piece as a stream, front to back. A medium that cannot seek checks the piece's
        size and BLAKE3 as it is read, and asks (through listener) for the volume it is on."""

    def open_random(self, name: str,
                    listener: Listener) -> AbstractContextManager[BinaryIO] | None:
        """The piece as a file object that can seek (to read a few frames of it); None: the
        medium reads in order only (a tape)."""


class DirectoryMedium:
    """A set directory: local disk, USB disk, a mounted NFS share."""

    def __init__(self, path: str):
        self.where = self.directory = path

    def piece_path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def open_piece(self, name: str, listener: Listener) -> AbstractContextManager[BinaryIO]:
        return open(self.piece_path(name), "rb")

    def open_random(self, name: str, listener: Listener) -> AbstractContextManager[BinaryIO]:
        return open(self.piece_path(name), "rb")
