"""A real tape drive, /dev/nst* (the non-rewinding device), driven by the st driver's ioctls.

The drive is put in variable block mode (MTSETBLK 0): each write is one record, each read
returns one record, and a read into a buffer smaller than the record fails with ENOMEM.
Reading a filemark returns no bytes and moves past it; MTIOCGET's general status tells the
end of the data apart from a filemark. Not testable on a host without the st driver: the
tests run it in a virtual machine against tgt's iSCSI tape.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct

from .tape import EndOfData, RecordTooLong, Tape, TapeError, TapePosition, os_error

# The ioctl numbers as <asm-generic/ioctl.h> computes them: direction, size, type, number.
_IOC_WRITE, _IOC_READ = 1, 2


def _ioc(direction: int, kind: str, number: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (ord(kind) << 8) | number


MTOP = struct.Struct("hi")  # struct mtop { short mt_op; int mt_count; }
# struct mtget { long mt_type, mt_resid, mt_dsreg, mt_gstat, mt_erreg;
#                __kernel_daddr_t (int) mt_fileno, mt_blkno; }
MTGET = struct.Struct("lllllii")
MTIOCTOP = _ioc(_IOC_WRITE, "m", 1, MTOP.size)
MTIOCGET = _ioc(_IOC_READ, "m", 2, MTGET.size)

# mt_op values (<sys/mtio.h>)
MTFSF, MTBSF, MTWEOF, MTREW, MTOFFL, MTEOM, MTSETBLK = 1, 2, 5, 6, 7, 12, 20
# mt_gstat bits
GMT_EOF, GMT_BOT, GMT_EOT, GMT_EOD = 0x80000000, 0x40000000, 0x20000000, 0x08000000


READ_BUFFER = 16 * 1024 * 1024  # the largest record a set on tape has (--block-size)
MIN_READ = 64 * 1024  # the smallest read buffer tried when the driver refuses a larger one


class DriveTape(Tape):
    def __init__(self, path: str, write: bool = False):
        self.name = path
        self._read_limit = READ_BUFFER  # lowered to what the st driver takes, when it refuses
        try:
            self._fd = os.open(path, os.O_RDWR if write else os.O_RDONLY)
        except OSError as exc:
            raise os_error(exc, "open it", path) from None
        self._op(MTSETBLK, 0, "switch to variable block mode")

    def _op(self, op: int, count: int, doing: str) -> None:
        try:
            fcntl.ioctl(self._fd, MTIOCTOP, MTOP.pack(op, count))
        except OSError as exc:
            raise os_error(exc, doing, self.name) from None

    def status(self) -> tuple[int, int, int]:
        """(general status bits, file number, block number) from MTIOCGET."""
        try:
            raw = fcntl.ioctl(self._fd, MTIOCGET, bytes(MTGET.size))
        except OSError as exc:
            raise os_error(exc, "read its status", self.name) from None
        _type, _resid, _dsreg, gstat, _erreg, fileno, blkno = MTGET.unpack(raw)
        return gstat, fileno, blkno

    def write_record(self, data: bytes) -> None:
        try:
            written = os.write(self._fd, data)
        except OSError as exc:
            raise os_error(exc, "write a record", self.name) from None
        if written != len(data):
            raise TapeError(f"The drive {self.name} took {written} of {len(data)} bytes.",
                            "The tape is probably at its end: go on with the next tape.")

    def write_filemark(self, count: int = 1) -> None:
        self._op(MTWEOF, count, "write a filemark")

    def read_record(self, max_size: int) -> bytes:
        # Always into the largest buffer st takes, not one of max_size: a record shorter than
        # a buffer of exactly the block size came back with wrong bytes (st's direct I/O
        # through QEMU's iSCSI passthrough to tgt's tape: 197,335 bytes into 256 KiB), while
        # the same record read into 1 MiB was right. A record longer than max_size is still
        # an error, as the interface says.
        size = self._read_limit
        while True:
            try:
                data = os.read(self._fd, size)
                break
            except OSError as exc:
                # st refuses (EINVAL, before reading anything) a read larger than its buffer can
                # grow to, which the drive's block limits bound (tgt's tape: 1 MiB): a record
                # cannot be larger than those, so a smaller read loses nothing.
                if exc.errno == errno.EINVAL and size > MIN_READ:
                    size = self._read_limit = max(MIN_READ, size // 2)
                    continue
                raise os_error(exc, "read a record", self.name) from None
        if len(data) > max_size:
            raise RecordTooLong(f"A record on {self.name} is {len(data)} bytes, longer than the "
                                f"{max_size} expected (it was passed over).",
                                "Give the block size the tape was written with, or a larger "
                                "one.")
        if not data and self.status()[0] & GMT_EOD:
            raise EndOfData(f"The tape in {self.name} ends here: nothing more is recorded.",
                            "The tape is incomplete, or it is another tape.")
        return data

    def space_forward(self, files: int) -> None:
        if files:
            self._op(MTFSF, files, f"space forward {files} files")

    def space_backward(self, files: int) -> None:
        if files:
            self._op(MTBSF, files, f"space back {files} files")

    def rewind(self) -> None:
        self._op(MTREW, 1, "rewind")

    def end_of_data(self) -> None:
        self._op(MTEOM, 1, "go to the end of the data")

    def position(self) -> TapePosition:
        gstat, fileno, blkno = self.status()
        return TapePosition(fileno, blkno, at_start=bool(gstat & GMT_BOT))

    def eject(self) -> None:
        try:
            self._op(MTOFFL, 1, "unload the tape")
        finally:
            self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
