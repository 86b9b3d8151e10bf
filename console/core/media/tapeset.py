"""A set on tape: its layout, written volume after volume, and read back through SetMedium.

Each volume, from the beginning of the tape (after the OBDR part on volume 1, if any):

  file 0   the header: one record of the block size, JSON padded with zero bytes (format,
           set id, volume number, block size, the pieces of the set in tape order with their
           sizes and BLAKE3, and where this volume starts: piece index and byte offset)
  file 1   manifest.json
  file 2   catalog.sqlite
  file 3.. the archive pieces in order, one tape file each, in records of the block size
  and two filemarks after the last piece of the set.

A piece that does not fit goes on on the next volume, from the byte where the last whole record
ended; that volume's header says so. OBDR (volume 1 only): 20 records of 512 zero bytes, the
bootable ISO in 2048-byte records, a filemark, then the set: a drive in OBDR mode boots from
the ISO as from a CD.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from typing import BinaryIO, Iterator

import blake3

from ..errors import RestoreError, UsageError
from ..events import Listener, Message, Progress, ignore
from ..questions import ABORT, ask, insert_volume
from ..units import size as words_size
from .drive import DriveTape
from .isolayout import set_label
from .simh import SimhTape
from .tape import EndOfData, EndOfMedium, Tape, TapeError, TapeFull, is_tape

log = logging.getLogger("restore_console")

TAPE_FORMAT = "restore-console tape set"
TAPE_FORMAT_VERSION = 1
DEFAULT_BLOCK_SIZE = 256 * 1024
MAX_BLOCK_SIZE = 16 * 1024 * 1024
OBDR_ZONE_RECORDS, OBDR_ZONE_RECORD = 20, 512
ISO_RECORD = 2048
MANIFEST, CATALOG = "manifest.json", "catalog.sqlite"
SET_FILES = 3  # header, manifest, catalog: then the pieces


@dataclass(frozen=True)
class TapePiece:
    name: str
    size: int
    blake3: str
    path: str = ""  # where the writer reads it from


@dataclass
class TapeHeader:
    set_id: str
    volume: int
    block_size: int
    pieces: list[TapePiece]
    first: tuple[int, int]  # (piece index, byte offset) this volume starts with
    host: str = ""
    created: str = ""

    def record(self) -> bytes:
        data = {"format": TAPE_FORMAT, "format_version": TAPE_FORMAT_VERSION,
                "set_id": self.set_id, "volume": self.volume, "block_size": self.block_size,
                "host": self.host, "created": self.created, "first": list(self.first),
                "pieces": [[p.name, p.size, p.blake3] for p in self.pieces]}
        raw = json.dumps(data, separators=(",", ":")).encode()
        if len(raw) > self.block_size:
            raise UsageError(f"The tape header ({len(raw)} bytes) does not fit in one block of "
                             f"{self.block_size} bytes.", "Give a larger --block-size.")
        return raw.ljust(self.block_size, b"\0")

    @classmethod
    def parse(cls, record: bytes) -> "TapeHeader | None":
        """The header in a record; None when the record is not one."""
        try:
            data = json.loads(record.rstrip(b"\0"))
            if data.get("format") != TAPE_FORMAT:
                return None
            if data.get("format_version") != TAPE_FORMAT_VERSION:
                raise RestoreError(f"The tape holds a set of tape format version "
                                   f"{data.get('format_version')}; this console reads version "
                                   f"{TAPE_FORMAT_VERSION}.",
                                   "Use the restore-console release that wrote the tape.")
            return cls(set_id=data["set_id"], volume=data["volume"],
                       block_size=data["block_size"],
                       pieces=[TapePiece(*p) for p in data["pieces"]],
                       first=tuple(data["first"]), host=data.get("host", ""),
                       created=data.get("created", ""))
        except (ValueError, UnicodeDecodeError, AttributeError, KeyError, TypeError):
            return None

    def words(self) -> str:
        """volume 2 of set 4f1c... (host web1, made 2026-01-02T03:04:05+00:00)"""
        made = ", ".join(filter(None, [f"host {self.host}" if self.host else "",
                                       f"made {self.created}" if self.created else ""]))
        return f"volume {self.volume} of set {self.set_id}" + (f" ({made})" if made else "")


def tape_label(header: TapeHeader, volume: int) -> str:
    """What to write on the cartridge of `volume`: web1-4f1c2a3b-2, as ISO volumes are named."""
    return f"{set_label(header.host, header.set_id)}-{volume}"


def check_iso(path: str) -> None:
    """An OBDR image must be ISO 9660 (its primary volume descriptor at sector 16)."""
    try:
        with open(path, "rb") as f:
            f.seek(16 * ISO_RECORD)
            descriptor = f.read(6)
    except OSError as exc:
        raise UsageError(f"--obdr {path} cannot be read: {exc.strerror}.",
                         "Give the ISO image mkrescue --iso made.") from None
    if descriptor[1:6] != b"CD001":
        raise UsageError(f"--obdr {path} is not an ISO 9660 image.",
                         "Give the bootable ISO image mkrescue --iso made.")


def open_tape(path: str, write: bool = False, capacity: int | None = None) -> Tape:
    """The tape at path: a .tap image (made when writing and missing; `capacity` bytes at
    most) or a tape drive."""
    if path.endswith(".tap"):
        return SimhTape(path, write=write, capacity=capacity)
    return DriveTape(path, write=write)


class _VolumeFull(Exception):
    def __init__(self, offset: int):
        self.offset = offset  # bytes of the piece written before the record that did not fit


def _write_records(tape: Tape, stream: BinaryIO, record_size: int, start: int,
                   progress: Progress | None = None, listener: Listener = ignore) -> None:
    offset = start
    while chunk := stream.read(record_size):
        try:
            tape.write_record(chunk)
        except TapeFull:
            raise _VolumeFull(offset) from None
        offset += len(chunk)
        if progress is not None:
            progress.bytes_done += len(chunk)
            listener(progress)


class TapeSetWriter:
    """Writes a set, staged in a directory, onto the tape at `where`, asking for each next
    volume through the listener. `capacity`: the size of a .tap image (a tape's length)."""

    def __init__(self, where: str, header: TapeHeader, directory: str, *,
                 obdr: str | None = None, capacity: int | None = None,
                 listener: Listener = ignore):
        self.where, self.header, self.directory = where, header, directory
        self.obdr, self.capacity, self.listener = obdr, capacity, listener

    def write(self) -> int:
        """Writes every volume; returns how many there are."""
        position = (0, 0)
        volume = 1
        total = sum(p.size for p in self.header.pieces)
        progress = Progress(f"Writing the set to {self.where}", bytes_total=total)
        while True:
            tape = self._load(volume)
            index = position[0]
            try:
                self._begin(tape, volume, position)
                for index in range(position[0], len(self.header.pieces)):
                    piece = self.header.pieces[index]
                    start = position[1] if index == position[0] else 0
                    with open(piece.path, "rb") as f:
                        f.seek(start)
                        _write_records(tape, f, self.header.block_size, start, progress,
                                       self.listener)
                    tape.write_filemark()
                tape.write_filemark()  # two in a row: the end of the set
                tape.close()
                self.listener(progress)
                return volume
            except _VolumeFull as full:
                position = (index, full.offset)
                tape.write_filemark()
                tape.mark_end_of_medium()
                tape.eject()
                self.listener(Message(f"Volume {volume} is full; the set goes on on volume "
                                      f"{volume + 1}. Label the full tape "
                                      f"{tape_label(self.header, volume)}."))
                volume += 1
            except BaseException:
                tape.close()
                raise

    def _begin(self, tape: Tape, volume: int, first: tuple[int, int]) -> None:
        """The OBDR part (volume 1), the header, the manifest and the catalog."""
        tape.rewind()
        header = TapeHeader(**{**asdict(self.header), "volume": volume, "first": first,
                               "pieces": self.header.pieces})
        try:
            if volume == 1 and self.obdr:
                for _ in range(OBDR_ZONE_RECORDS):
                    tape.write_record(bytes(OBDR_ZONE_RECORD))
                with open(self.obdr, "rb") as f:
                    _write_records(tape, f, ISO_RECORD, 0)
                tape.write_filemark()
            tape.write_record(header.record())
            tape.write_filemark()
            for name in (MANIFEST, CATALOG):
                with open(os.path.join(self.directory, name), "rb") as f:
                    _write_records(tape, f, self.header.block_size, 0)
                tape.write_filemark()
        except (_VolumeFull, TapeFull):
            raise RestoreError(f"The tape in {self.where} is too small to hold even the "
                               "header, the manifest and the catalog of the set"
                               + (" and the OBDR image" if volume == 1 and self.obdr else "")
                               + ". Nothing more was written.", "Use a larger tape.") from None

    def _load(self, volume: int) -> Tape:
        """The tape for this volume: the first as given; the next ones asked for, refusing a
        tape that already holds a volume of this set."""
        if volume == 1:
            return open_tape(self.where, write=True, capacity=self.capacity)
        found = ""
        while True:
            answer = ask(self.listener, insert_volume(
                volume, self.header.set_id, self.where, found,
                "A .tap image stands for the drive: move the full image away (to keep it as "
                f"volume {volume - 1}); a new one is made at the same path."
                if self.where.endswith(".tap") else "Put a blank or reusable tape in the "
                                                     "drive.",
                label=tape_label(self.header, volume)))
            if answer == ABORT:
                raise RestoreError(f"The backup to {self.where} stopped at the end of volume "
                                   f"{volume - 1}: the set on tape is incomplete.",
                                   "Back up again with enough tapes.")
            tape = open_tape(self.where, write=True, capacity=self.capacity)
            held = read_header(tape)
            if held is None or held.set_id != self.header.set_id:
                return tape
            tape.eject()
            found = (f"The tape in {self.where} is {held.words()}, which was just written: it "
                     "would be overwritten.")
            self.listener(Message(found))


def read_header(tape: Tape) -> TapeHeader | None:
    """The set header at the start of the tape, after the OBDR part if there is one; None on a
    blank tape or one without a header."""
    try:
        tape.rewind()
        record = tape.read_record(MAX_BLOCK_SIZE)
        if record == bytes(OBDR_ZONE_RECORD):
            tape.space_forward(1)
            record = tape.read_record(MAX_BLOCK_SIZE)
        return TapeHeader.parse(record)
    except (EndOfData, EndOfMedium):
        return None


# Tape sets opened in this process, by path: a second load of the same SET (the plan, then
# its application) reuses the copy of the manifest and the catalog and the tape's position.
_OPENED: dict[str, "TapeMedium"] = {}


def open_tape_set(where: str, listener: Listener = ignore) -> "TapeMedium":
    key = os.path.realpath(where)
    if key not in _OPENED:
        _OPENED[key] = TapeMedium(where, listener)
    return _OPENED[key]


def forget_tape_sets() -> None:
    """Closes the tapes and removes the copies (at exit, and between tests)."""
    for medium in _OPENED.values():
        medium.close()
    _OPENED.clear()


atexit.register(forget_tape_sets)


class TapeMedium:
    """A set read from tape. Opening reads the header, the manifest and the catalog (into a
    directory of their own); pieces are then read in tape order, spacing forward over the
    tape files not needed. A piece before the position costs a rewind (counted in
    `rewinds`); one on another volume is asked for."""

    def __init__(self, where: str, listener: Listener = ignore):
        if not os.path.exists(where):
            raise UsageError(f"The tape {where} does not exist.",
                             "Give a .tap image or a tape drive (/dev/nst0).")
        if not is_tape(where):
            raise UsageError(f"{where} is not a tape.", "Give a .tap image or a tape drive.")
        self.where = where
        self.rewinds = 0
        self.files_spaced = 0  # tape files passed over without reading them
        self._tape: Tape | None = None
        self._lead = 0  # tape files before the header: 1 behind an OBDR part
        self._file = 0  # the tape file the tape is in
        self._at_start = False  # at the start of that file: nothing of it read yet
        self._firsts: dict[int, tuple[int, int]] = {}
        self.header = self._load(None, listener)
        self.directory = tempfile.mkdtemp(prefix="restore-console-tape-")
        try:
            self._tape.space_forward(1)
            for name in (MANIFEST, CATALOG):
                with open(os.path.join(self.directory, name), "wb") as out:
                    while record := self._tape.read_record(self.header.block_size):
                        out.write(record)
            self._file, self._at_start = self._lead + SET_FILES, True
        except BaseException:
            self.close()
            raise

    # -- volumes

    def _load(self, volume: int | None, listener: Listener, found: str = "") -> TapeHeader:
        """Opens the tape, reads its header and checks it is `volume` of this set (any volume
        of any set when None: the first opening); else says what it is, asks and reads again.
        Leaves the tape in the header's file."""
        said = ""
        while True:
            if found:
                if found != said:  # asked again with nothing new (a wait polling): said once
                    listener(Message(found))
                    said = found
                answer = ask(listener, insert_volume(volume, self.header.set_id, self.where,
                                                     found, label=tape_label(self.header,
                                                                             volume)))
                if answer == ABORT:
                    raise RestoreError(f"Volume {volume} of set {self.header.set_id} is needed "
                                       f"in {self.where}. " + found,
                                       "Insert it and run again.")
            self._tape = open_tape(self.where)
            header = read_header(self._tape)
            self._lead = self._tape.position().file
            if header is None:
                if volume is None:
                    self._tape.close()
                    raise RestoreError(f"The tape in {self.where} holds no restore-console "
                                       "set (no set header at its beginning).",
                                       "Insert the first tape of the set, or give a set "
                                       "directory.")
                found = f"The tape in {self.where} holds no restore-console set."
            elif volume is not None and (header.set_id != self.header.set_id
                                         or header.volume != volume):
                found = (f"The tape in {self.where} is {header.words()}, "
                         + ("another set" if header.set_id != self.header.set_id
                            else f"not volume {volume}") + ".")
            else:
                self._firsts[header.volume] = header.first
                self._file, self._at_start = self._lead, False
                return header
            self._tape.eject()

    def _change(self, volume: int, listener: Listener) -> None:
        """Volume `volume` of this set in the drive, at the start of its first piece."""
        self._tape.eject()
        self.header = self._load(volume, listener,
                                 f"The set goes on on volume {volume}.")
        self._space_to(self._lead + SET_FILES)

    def _space_to(self, file: int) -> None:
        """To the start of tape file `file`: forward, or from the beginning when it is behind."""
        if file == self._file and self._at_start:
            return
        if file <= self._file:
            self._tape.rewind()
            self.rewinds += 1
            self._file = 0
        passed = file - self._file
        self._tape.space_forward(passed)
        self.files_spaced += passed - (0 if self._at_start else 1)
        self._file, self._at_start = file, True

    # -- pieces

    def piece_path(self, name: str) -> None:
        return None

    def open_random(self, name: str, listener: Listener) -> None:
        return None

    def _index(self, name: str) -> int:
        for index, piece in enumerate(self.header.pieces):
            if piece.name == name:
                return index
        raise RestoreError(f"The piece {name} is not on the tape {self.where}.",
                           "The manifest and the tape header disagree: use another copy.")

    @contextlib.contextmanager
    def open_piece(self, name: str, listener: Listener) -> Iterator[BinaryIO]:
        index = self._index(name)
        self._go_to_piece(index, listener)
        yield _PieceStream(self, index, listener)

    def _go_to_piece(self, index: int, listener: Listener) -> None:
        volume = max(v for v, first in self._firsts.items() if first <= (index, 0)) \
            if any(first <= (index, 0) for first in self._firsts.values()) else 1
        while True:
            if volume != self.header.volume:
                self._change(volume, listener)
            first = self.header.first[0]
            try:
                self._space_to(self._lead + SET_FILES + index - first)
                return
            except (EndOfMedium, EndOfData):
                volume += 1  # the piece starts on a later volume

    def _continue(self, index: int, offset: int, listener: Listener) -> None:
        """The piece goes on on the next volume, from offset."""
        self._change(self.header.volume + 1, listener)
        if self.header.first != (index, offset):
            raise RestoreError(f"Volume {self.header.volume} of the set starts with byte "
                               f"{self.header.first[1]} of piece {self.header.first[0] + 1}, "
                               f"but byte {offset} of piece {index + 1} "
                               f"({self.header.pieces[index].name}) is needed.",
                               "The volumes of this set are damaged: use another copy.")

    def close(self) -> None:
        if self._tape is not None:
            self._tape.close()
        if getattr(self, "directory", None):
            shutil.rmtree(self.directory, ignore_errors=True)


class _PieceStream:
    """One piece, front to back, across volumes; its size and BLAKE3 are checked at its end."""

    def __init__(self, medium: TapeMedium, index: int, listener: Listener):
        self._medium, self._index, self._listener = medium, index, listener
        self._piece = medium.header.pieces[index]
        self._done = 0
        self._buffer = memoryview(b"")
        self._hash = blake3.blake3()

    def _fill(self) -> None:
        medium = self._medium
        while True:
            record = medium._tape.read_record(medium.header.block_size)
            if record:
                medium._at_start = False
                break
            medium._file, medium._at_start = medium._file + 1, True
            if self._done < self._piece.size:
                medium._continue(self._index, self._done, self._listener)
        record = record[: self._piece.size - self._done]
        self._done += len(record)
        self._hash.update(record)
        self._buffer = memoryview(record)
        if self._done == self._piece.size and self._hash.hexdigest() != self._piece.blake3:
            raise RestoreError(f"The piece {self._piece.name} read from {medium.where} does "
                               "not match its BLAKE3 checksum.",
                               "The tape is damaged: use another copy of the set.")

    def read(self, count: int = -1) -> bytes:
        if not self._buffer:
            if self._done >= self._piece.size:
                return b""
            try:
                self._fill()
            except TapeError as exc:
                raise RestoreError(f"Reading {self._piece.name} from {self._medium.where} "
                                   f"failed after {words_size(self._done)}: {exc.message}",
                                   exc.hint or "Use another copy of the set.") from None
        if count < 0 or count >= len(self._buffer):
            data, self._buffer = self._buffer, memoryview(b"")
        else:
            data, self._buffer = self._buffer[:count], self._buffer[count:]
        return bytes(data)
