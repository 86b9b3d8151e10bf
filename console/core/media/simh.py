"""A tape image in SIMH's .tap format, the fake tape of the tests (and of anyone without a drive).

Each record: its length as a 32-bit little-endian word, the bytes (padded to an even length, as
SIMH does), the length word again. A zero word is a filemark; 0xFFFFFFFF marks the end of the
medium; 0xFFFFFFFE is an erase gap (passed over). The end of the file is the end of the data.
A length with the top bit set is a record SIMH could not read. The image stands for a drive
with its tape: replacing the file at the path is changing the tape.
"""

from __future__ import annotations

import os
import struct

from .tape import (
    EndOfData,
    EndOfMedium,
    RecordTooLong,
    Tape,
    TapeError,
    TapeFull,
    TapePosition,
)

WORD = struct.Struct("<I")
FILEMARK = 0x00000000
END_OF_MEDIUM = 0xFFFFFFFF
ERASE_GAP = 0xFFFFFFFE
BAD_RECORD = 0x80000000
# Room kept at the end of a full image for what a writer adds after its last record: two
# filemarks and the end-of-medium mark.
RESERVE = 3 * WORD.size


def _padded(length: int) -> int:
    return length + (length & 1)


class SimhTape(Tape):
    def __init__(self, path: str, write: bool = False, capacity: int | None = None):
        self.name = path
        self.capacity = capacity
        try:
            if write:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
                self._file = os.fdopen(fd, "r+b", buffering=0)
            else:
                self._file = open(path, "rb", buffering=0)
        except OSError as exc:
            raise TapeError(f"The tape image {path} cannot be opened: {exc.strerror}.",
                            "Give the path of a .tap image (or of a tape drive).") from None
        self._pos = 0

    # -- reading

    def _word_at(self, offset: int) -> int | None:
        raw = os.pread(self._file.fileno(), WORD.size, offset)
        if len(raw) < WORD.size:
            return None
        return WORD.unpack(raw)[0]

    def _next(self) -> tuple[str, int]:
        """What follows the position: ("record", length), ("filemark", 0); the end of the
        data or of the medium raise."""
        while True:
            word = self._word_at(self._pos)
            if word is None:
                raise EndOfData(f"The tape {self.name} ends here: nothing more is recorded.",
                                "The tape is incomplete, or it is another tape.")
            if word == END_OF_MEDIUM:
                raise EndOfMedium(f"The tape {self.name} reached its end.",
                                  "The set continues on the next tape.")
            if word == ERASE_GAP:
                self._pos += WORD.size
                continue
            if word == FILEMARK:
                return "filemark", 0
            return "record", word

    def read_record(self, max_size: int) -> bytes:
        kind, word = self._next()
        if kind == "filemark":
            self._pos += WORD.size
            return b""
        length = word & ~BAD_RECORD
        # The bytes, the padding and the closing length word in one read.
        framed = os.pread(self._file.fileno(), _padded(length) + WORD.size,
                          self._pos + WORD.size)
        if len(framed) != _padded(length) + WORD.size or framed[-WORD.size :] != WORD.pack(word):
            raise TapeError(f"The tape image {self.name} is damaged at byte {self._pos}: a "
                            "record's two length words differ (or it is cut short).",
                            "Use another copy of the set.")
        data = framed[:length]
        self._pos += WORD.size + len(framed)
        if word & BAD_RECORD:
            raise TapeError(f"A record of {self.name} could not be read when the image was "
                            "made.", "Use another copy of the set.")
        if length > max_size:
            raise RecordTooLong(f"A record of {self.name} holds {length} bytes, more than the "
                                f"{max_size} it was read into (ENOMEM): it was passed over.",
                                "Read it with the block size it was written with.")
        return data

    def space_forward(self, files: int) -> None:
        for _ in range(files):
            while True:
                kind, word = self._next()
                self._pos += WORD.size if kind == "filemark" else \
                    2 * WORD.size + _padded(word & ~BAD_RECORD)
                if kind == "filemark":
                    break

    def space_backward(self, files: int) -> None:
        passed = 0
        while passed < files:
            if self._pos < WORD.size:
                self._pos = 0
                raise TapeError(f"Spacing back on {self.name} reached the beginning of the "
                                "tape.", "The tape holds fewer files than expected.")
            word = self._word_at(self._pos - WORD.size)
            if word == FILEMARK:
                self._pos -= WORD.size
                passed += 1
            elif word in (ERASE_GAP, END_OF_MEDIUM):
                self._pos -= WORD.size
            else:
                self._pos -= 2 * WORD.size + _padded(word & ~BAD_RECORD)

    def rewind(self) -> None:
        self._pos = 0

    def end_of_data(self) -> None:
        """After the last record or filemark: where appending writes."""
        while True:
            try:
                kind, word = self._next()
            except (EndOfData, EndOfMedium):
                return
            self._pos += WORD.size if kind == "filemark" else \
                2 * WORD.size + _padded(word & ~BAD_RECORD)

    def position(self) -> TapePosition:
        """Counted from the beginning: an image keeps no index."""
        here, self._pos = self._pos, 0
        file = block = 0
        try:
            while self._pos < here:
                kind, word = self._next()
                if kind == "filemark":
                    self._pos += WORD.size
                    file, block = file + 1, 0
                else:
                    self._pos += 2 * WORD.size + _padded(word & ~BAD_RECORD)
                    block += 1
        finally:
            self._pos = here
        return TapePosition(file, block, at_start=here == 0)

    # -- writing

    def _write(self, data: bytes, reserve: int) -> None:
        if self.capacity is not None and self._pos + len(data) + reserve > self.capacity:
            raise TapeFull(f"The tape {self.name} is full: {self.capacity} bytes.",
                           "Go on with the next tape.")
        self._file.seek(self._pos)
        self._file.write(data)
        self._pos += len(data)
        self._file.truncate(self._pos)  # what followed is overwritten, as on a tape

    def write_record(self, data: bytes) -> None:
        if not data or len(data) >= BAD_RECORD:
            raise ValueError(f"a record holds 1 to 2**31-1 bytes, not {len(data)}")
        word = WORD.pack(len(data))
        self._write(word + data + b"\0" * (len(data) & 1) + word, RESERVE)

    def write_filemark(self, count: int = 1) -> None:
        self._write(WORD.pack(FILEMARK) * count, 0)

    def mark_end_of_medium(self) -> None:
        """Marks the tape as full, as SIMH does when a write reaches its end."""
        self._write(WORD.pack(END_OF_MEDIUM), 0)

    def close(self) -> None:
        if not self._file.closed:
            if self._file.mode != "rb":
                os.fsync(self._file.fileno())
            self._file.close()
