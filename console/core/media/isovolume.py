"""One ISO 9660 volume of a set, read without the kernel's iso9660 driver: pycdlib reads the
directory, and since each file on ISO 9660 is one contiguous extent, a file's bytes are read
straight from the image or the drive at its extent's place (so a piece can be seeked in)."""

from __future__ import annotations

import fcntl
import logging
import os
import stat

import pycdlib
from pycdlib.pycdlibexception import PyCdlibException

from ..errors import RestoreError
from .isolayout import HEADER_FILE, SECTOR, VolumeHeader

log = logging.getLogger("restore_console")

ISO_MAGIC_AT, ISO_MAGIC = 16 * SECTOR + 1, b"CD001"
CDROMEJECT = 0x5309  # linux/cdrom.h
CDROM_DRIVE_STATUS, CDSL_CURRENT = 0x5326, 0x7FFFFFFF
# What CDROM_DRIVE_STATUS says when there is no disc to read, in words.
NO_DISC = {1: "no disc is in it", 2: "its tray is open", 3: "it is not ready"}


def is_optical_drive(path: str) -> bool:
    return os.path.basename(os.path.realpath(path)).startswith("sr") and path.startswith("/dev/")


def is_block_device(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def is_iso(path: str) -> bool:
    """An ISO 9660 image file, or an optical drive (whether a disc is in or not)."""
    if is_optical_drive(path):
        return True
    try:
        if not (os.path.isfile(path) or is_block_device(path)):
            return False
        with open(path, "rb") as f:
            f.seek(ISO_MAGIC_AT)
            return f.read(len(ISO_MAGIC)) == ISO_MAGIC
    except OSError:
        return False


class NoVolume(Exception):
    """What is at the place is not a volume of a set: `why` says what it is, in words."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


class IsoVolume:
    """An ISO volume of a set at `path` (an image file or a drive with a disc in). Raises
    NoVolume when there is none, or it holds no set."""

    def __init__(self, path: str):
        self.path = path
        state = disc_state(path) if is_optical_drive(path) else None
        if state in NO_DISC:
            raise NoVolume(f"There is no disc in {path} ({NO_DISC[state]}).")
        try:
            self._fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise NoVolume(f"There is no {path}.") from None
        except OSError as exc:
            raise NoVolume(f"{path} cannot be read ({exc.strerror}): no disc is in, "
                           "or it is not ready.") from None
        try:
            self._iso = pycdlib.PyCdlib()
            self._file = os.fdopen(os.dup(self._fd), "rb")
            try:
                self._iso.open_fp(self._file)
            except (PyCdlibException, OSError, ValueError) as exc:
                raise NoVolume(f"{path} is not an ISO 9660 volume ({exc}).") from None
            raw = self.read_file(HEADER_FILE) if self.extent(HEADER_FILE) else None
            self.header = VolumeHeader.parse(raw) if raw is not None else None
            if self.header is None:
                label = self._iso.pvd.volume_identifier.decode(errors="replace").strip()
                raise NoVolume(f"{path} is an ISO volume labelled '{label}' that holds no "
                               "restore-console set.")
        except BaseException:
            self.close()
            raise

    def extent(self, name: str) -> tuple[int, int] | None:
        """(byte offset in the volume, size) of the file `name` in the root; None: no such
        file."""
        for key in ("rr_path", "joliet_path"):
            try:
                record = self._iso.get_record(**{key: "/" + name})
            except PyCdlibException:
                continue
            return record.extent_location() * SECTOR, record.get_data_length()
        return None

    def read_at(self, offset: int, count: int) -> bytes:
        data = os.pread(self._fd, count, offset)
        if len(data) != count:
            raise RestoreError(f"{self.path} ends {count - len(data)} bytes short at byte "
                               f"{offset}: the volume is truncated.",
                               "Use another copy of the volume.")
        return data

    def read_file(self, name: str) -> bytes:
        where = self.extent(name)
        if where is None:
            raise RestoreError(f"{self.path} has no file {name}.",
                               "The volume is damaged: use another copy.")
        return self.read_at(*where)

    def copy_file(self, name: str, to: str, chunk: int = 8 * 1024 * 1024) -> None:
        where = self.extent(name)
        if where is None:
            raise RestoreError(f"{self.path} has no file {name}.",
                               "The volume is damaged: use another copy.")
        offset, size = where
        with open(to, "wb") as out:
            for start in range(0, size, chunk):
                out.write(self.read_at(offset + start, min(chunk, size - start)))

    def close(self) -> None:
        if getattr(self, "_file", None) is not None:
            self._file.close()
        if getattr(self, "_fd", -1) >= 0:
            os.close(self._fd)
            self._fd = -1


def disc_state(path: str) -> int | None:
    """CDROM_DRIVE_STATUS of an optical drive (None: it does not say). Asked with O_NONBLOCK:
    a plain open of a drive whose tray is open closes the tray (the kernel's autoclose),
    which would take back the disc just ejected, or close it on the operator's hand."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        return fcntl.ioctl(fd, CDROM_DRIVE_STATUS, CDSL_CURRENT)
    except OSError:
        return None
    finally:
        os.close(fd)


def eject(path: str) -> None:
    """Opens the drive's tray, where it has one (a failure is logged, not fatal: the operator
    can still change the disc by hand)."""
    if not is_optical_drive(path):
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            fcntl.ioctl(fd, CDROMEJECT)
        finally:
            os.close(fd)
    except OSError as exc:
        log.info("eject %s: %s", path, exc)
