"""A set read from ISO volumes (isolayout.py has the layout), through SetMedium.

The SET is one volume, the first as a rule: an image file, or an optical drive with the disc
in. The manifest and the catalog are copied from it into a directory of their own. The other
volumes are image files beside it, named like it with their own number (web1-4f1c2a3b-2.iso),
or discs put into the drive; when one is missing or wrong (another set, another number) the
operator is told what is there, in words, and asked for the right one.

Pieces are read where they lie on the volumes: front to back with their size and BLAKE3
checked (a whole restore, in the order the pieces were written), or seeked in (a partial
restore), which opens only the volumes holding the bytes it reads.
"""

from __future__ import annotations

import atexit
import bisect
import contextlib
import os
import re
import shutil
import tempfile
from typing import BinaryIO, Iterator

import blake3

from ..errors import RestoreError, UsageError
from ..events import Listener, Message, ignore
from ..questions import ABORT, ask, insert_volume
from .isolayout import Part, VolumeHeader, set_label, volume_id
from .isovolume import IsoVolume, NoVolume, eject, is_block_device, is_optical_drive

MANIFEST, CATALOG = "manifest.json", "catalog.sqlite"
_NUMBERED = re.compile(r"^(.*)-(\d+)\.iso$")

_OPENED: dict[str, "IsoMedium"] = {}


def open_iso_set(where: str, listener: Listener = ignore) -> "IsoMedium":
    """The set on the ISO volume at where; a second load of the same SET (the plan, then its
    application) reuses the opened volumes and the copy of the manifest and catalog."""
    key = os.path.realpath(where)
    if key not in _OPENED:
        _OPENED[key] = IsoMedium(where, listener)
    return _OPENED[key]


def forget_iso_sets() -> None:
    """Closes the volumes and removes the copies (at exit, and between tests)."""
    for medium in _OPENED.values():
        medium.close()
    _OPENED.clear()


atexit.register(forget_iso_sets)


class IsoMedium:
    """A set on ISO volumes. `opened`: the volume numbers opened, in order (tests count
    them)."""

    def __init__(self, where: str, listener: Listener = ignore):
        if not is_optical_drive(where) and not os.path.exists(where):
            raise UsageError(f"The ISO volume {where} does not exist.",
                             "Give the first volume of the set (an .iso file) or a drive "
                             "(/dev/sr0).")
        self.where = where
        # a drive (or any block device: a USB stick written with dd) holds one disc at a time
        self.drive = is_optical_drive(where) or is_block_device(where)
        self.opened: list[int] = []
        self._volumes: dict[int, IsoVolume] = {}
        try:
            first = IsoVolume(where)
        except NoVolume as no:
            raise RestoreError(no.why, "Give the first volume of the set, or a set "
                                       "directory.") from None
        self.header: VolumeHeader = first.header
        self._keep(first)
        self.directory = tempfile.mkdtemp(prefix="restore-console-iso-")
        try:
            for name in (MANIFEST, CATALOG):
                first.copy_file(name, os.path.join(self.directory, name))
        except BaseException:
            self.close()
            raise

    def _keep(self, volume: IsoVolume) -> None:
        self._volumes[volume.header.volume] = volume
        self.opened.append(volume.header.volume)

    # -- volumes

    def place_of(self, number: int) -> str:
        """Where volume `number` is looked for: the drive, or the file named like the first
        with its number."""
        if self.drive:
            return self.where
        folder, name = os.path.split(os.path.abspath(self.where))
        match = _NUMBERED.match(name)
        prefix = match.group(1) if match else self.header.label
        return os.path.join(folder, f"{prefix}-{number}.iso")

    def label_of(self, number: int) -> str:
        """What is written on volume `number`: its image's name (web1-4f1c2a3b-2) and its ISO
        volume id, as a drive's tools show it (RC_4F1C2A3B_2)."""
        label = self.header.label or set_label(self.header.host, self.header.set_id)
        return f"{label}-{number}, volume id {volume_id(self.header.set_id, number)}"

    def volume(self, number: int, listener: Listener) -> IsoVolume:
        """Volume `number` of this set, opened: found in its place, else asked for until the
        right one is there (or the operator gives up)."""
        if number in self._volumes:
            return self._volumes[number]
        place = self.place_of(number)
        found = said = ""
        if self.drive:  # the disc in the drive is another volume: it is taken out first
            self._release_drive()
            found = f"The set goes on on volume {number}."
        while True:
            if found:
                if found != said:  # asked again with nothing new (a wait polling): said once
                    listener(Message(found))
                    said = found
                answer = ask(listener, insert_volume(
                    number, self.header.set_id, place, found,
                    "Put the disc in the drive and close its tray." if self.drive else
                    f"Put the image of volume {number} there (copy or link it).",
                    label=self.label_of(number), volumes=self.header.volumes))
                if answer == ABORT:
                    raise RestoreError(f"Volume {number} of set {self.header.set_id} is "
                                       f"needed in {place}. {found}",
                                       "Insert it and run again." if self.drive else
                                       "Put its image there and run again.")
            try:
                candidate = IsoVolume(place)
                held = candidate.header
                if held.set_id == self.header.set_id and held.volume == number:
                    self._keep(candidate)
                    return candidate
                candidate.close()
                found = (f"{place} holds {held.words()}: "
                         + ("another set" if held.set_id != self.header.set_id
                            else f"not volume {number}") + ".")
                if self.drive:
                    eject(place)
            except NoVolume as no:
                found = no.why

    def _release_drive(self) -> None:
        """One disc at a time in a drive: the one in is closed and ejected."""
        for volume in self._volumes.values():
            volume.close()
        self._volumes.clear()
        eject(self.where)

    # -- pieces

    def piece_path(self, name: str) -> None:
        """Read through open_piece, so the pieces are checked as they are read and the
        volumes taken in order, each once."""
        return None

    @contextlib.contextmanager
    def open_piece(self, name: str, listener: Listener) -> Iterator[BinaryIO]:
        yield _CheckedStream(PieceFile(self, name, listener, use_tail=False))

    @contextlib.contextmanager
    def open_random(self, name: str, listener: Listener) -> Iterator[BinaryIO]:
        """The piece as a file that can be seeked in: only the volumes holding the bytes read
        are opened (the seek table of a cut piece comes from the volume header)."""
        yield PieceFile(self, name, listener)

    def close(self) -> None:
        for volume in self._volumes.values():
            volume.close()
        self._volumes.clear()
        if getattr(self, "directory", None):
            shutil.rmtree(self.directory, ignore_errors=True)


class PieceFile:
    """A piece across its parts on the volumes, read-only, seekable."""

    def __init__(self, medium: IsoMedium, name: str, listener: Listener, use_tail=True):
        self._medium, self._listener = medium, listener
        self.piece = medium.header.piece(name)
        self.name = name
        self._parts: list[Part] = medium.header.parts_of(name)
        self._starts = [p.offset for p in self._parts]
        self._extents: dict[int, int] = {}
        self._tail = self.piece.tail if use_tail else b""
        self._pos = 0

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self.piece.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def read(self, count: int = -1) -> bytes:
        end = self.piece.size if count < 0 else min(self.piece.size, self._pos + count)
        chunks = []
        while self._pos < end:
            tail_start = self.piece.size - len(self._tail)
            if self._tail and self._pos >= tail_start:
                chunk = self._tail[self._pos - tail_start: end - tail_start]
            else:
                chunk = self._read_part(end)
            chunks.append(chunk)
            self._pos += len(chunk)
        return b"".join(chunks)

    def _read_part(self, end: int) -> bytes:
        index = bisect.bisect_right(self._starts, self._pos) - 1
        part = self._parts[index]
        volume = self._medium.volume(part.volume, self._listener)
        if index not in self._extents:
            extent = volume.extent(part.file)
            if extent is None or extent[1] != part.size:
                raise RestoreError(f"Volume {part.volume} ({volume.path}) has no part "
                                   f"{part.file} of {part.size} bytes.",
                                   "The volume is damaged: use another copy of the set.")
            self._extents[index] = extent[0]
        within = self._pos - part.offset
        count = min(end, part.offset + part.size) - self._pos
        return volume.read_at(self._extents[index] + within, count)

    def close(self) -> None:
        pass

    def __enter__(self) -> "PieceFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _CheckedStream:
    """A piece front to back; its BLAKE3 checked when its last byte is read."""

    def __init__(self, piece: PieceFile):
        self._piece = piece
        self._hash = blake3.blake3(max_threads=blake3.blake3.AUTO)
        self._checked = False

    def read(self, count: int = -1) -> bytes:
        data = self._piece.read(count)
        self._hash.update(data)
        if self._piece.tell() == self._piece.piece.size and not self._checked:
            self._checked = True
            if self._hash.hexdigest() != self._piece.piece.blake3:
                raise RestoreError(f"The piece {self._piece.name} read from the volumes of "
                                   "the set does not match its BLAKE3 checksum.",
                                   "A volume is damaged: use another copy of the set.")
        return data
