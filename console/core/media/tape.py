"""One interface to a tape: a drive (/dev/nst*, drive.py) or a SIMH .tap image (simh.py).

A tape holds records (blocks written by one write) and filemarks; a run of records between
filemarks is a tape file. Both kinds speak the same operations, with the meaning the Linux st
driver gives them, so the set on tape is written and read by the same code whichever it is:

- write_record / write_filemark: writing also ends the recorded data there (what followed is
  gone, as on a real tape);
- read_record(max_size): the next record; b"" when a filemark was passed instead; a record
  longer than max_size fails with RecordTooLong (ENOMEM on a drive), passed over;
- space_forward(n): past n filemarks, to the start of the tape file n files on;
  space_backward(n): back past n filemarks, positioned just before the last one passed;
- rewind, end_of_data (after the last recorded filemark or record, to append), position.
"""

from __future__ import annotations

import errno
import os
import stat
from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..errors import RestoreError

TAPE_HINT = "Check the tape and the drive (dmesg tells what the drive said), then try again."


class TapeError(RestoreError):
    """The tape or drive failed; the message says what was done."""


class TapeFull(TapeError):
    """No room for the record on this tape (ENOSPC, or the image's capacity): it was not
    written. Filemarks still fit."""


class EndOfData(TapeError):
    """Reading or spacing reached the end of what was recorded (blank tape after it)."""


class EndOfMedium(TapeError):
    """Reading or spacing reached the physical end of the tape (SIMH: the 0xFFFFFFFF mark)."""


class RecordTooLong(TapeError):
    """The record is longer than the buffer it was read into (ENOMEM): it was passed over."""


@dataclass(frozen=True)
class TapePosition:
    file: int  # tape files passed since the beginning (filemarks before the position)
    block: int  # records passed since the start of this tape file
    at_start: bool = False  # at the beginning of the tape


class Tape(ABC):
    """A tape in a drive or an image; `name` is how the operator knows it (its path)."""

    name: str

    @abstractmethod
    def write_record(self, data: bytes) -> None: ...

    @abstractmethod
    def write_filemark(self, count: int = 1) -> None: ...

    @abstractmethod
    def read_record(self, max_size: int) -> bytes: ...

    @abstractmethod
    def space_forward(self, files: int) -> None: ...

    @abstractmethod
    def space_backward(self, files: int) -> None: ...

    @abstractmethod
    def rewind(self) -> None: ...

    @abstractmethod
    def end_of_data(self) -> None: ...

    @abstractmethod
    def position(self) -> TapePosition: ...

    @abstractmethod
    def close(self) -> None: ...

    def mark_end_of_medium(self) -> None:
        """After the last filemark of a full tape: a drive knows its end itself."""

    def eject(self) -> None:
        """Rewinds and unloads where the drive can; an image is only closed."""
        self.close()

    def __enter__(self) -> "Tape":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def is_tape(path: str) -> bool:
    """A SIMH image (a name ending in .tap) or a character device (a tape drive)."""
    if path.endswith(".tap"):
        return True
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def os_error(exc: OSError, doing: str, name: str) -> TapeError:
    """The tape error an errno means, in words."""
    if exc.errno == errno.ENOSPC:
        return TapeFull(f"The tape in {name} is full ({doing}).", TAPE_HINT)
    if exc.errno == errno.ENOMEM:
        return RecordTooLong(f"A record on {name} is longer than the buffer it was read "
                             f"into ({doing}).", "Give the block size the tape was written "
                                                 "with, or a larger one.")
    if exc.errno == errno.ENOMEDIUM:
        return TapeError(f"There is no tape in {name} ({doing}).", "Insert the tape.")
    return TapeError(f"The drive {name} failed to {doing}: {exc.strerror}.", TAPE_HINT)
