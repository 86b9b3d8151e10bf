"""Inode flags (what chattr sets and lsattr shows): read at backup, set back after a restore.

GNU tar does not carry them, so the catalog records them (its `flags` column). Only the flags
an operator sets and a restore can honestly give back are kept (KEPT); the others are the
filesystem's own business (e: extents, I: hashed directory, N: inline data, E: encrypted, ...)
or would lie after the fact (C: no copy-on-write takes effect only on an empty file, c:
compression only on data written afterwards; P: project inheritance needs project ids, which
the set does not hold).

Only regular files and directories can be opened for the ioctl; symlinks, devices, FIFOs and
sockets carry no flags here.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct

FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602

# (flag, lsattr letter), in lsattr's order of letters.
_LETTERS = (
    (0x00000008, "S"),  # synchronous updates
    (0x00010000, "D"),  # synchronous directory updates
    (0x00000010, "i"),  # immutable
    (0x00000020, "a"),  # append only
    (0x00000040, "d"),  # no dump
    (0x00000080, "A"),  # no atime updates
    (0x00020000, "T"),  # top of a directory hierarchy (Orlov allocator)
)
KEPT = sum(flag for flag, _ in _LETTERS)
IMMUTABLE = 0x10
APPEND_ONLY = 0x20
# What stops a file from being replaced or written: set last, cleared first.
LOCKING = IMMUTABLE | APPEND_ONLY
# The errors of a filesystem that does not support a flag (or the ioctl at all).
UNSUPPORTED = (errno.EOPNOTSUPP, errno.ENOTTY, errno.EINVAL)
_OPEN = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC


def letters(flags: int) -> str:
    """0x30 -> 'ia'; no kept flag -> '-'."""
    return "".join(letter for flag, letter in _LETTERS if flags & flag) or "-"


def read_flags(path: bytes | str) -> int:
    """The kept flags of a file or directory; 0 where the filesystem has none to give."""
    fd = os.open(path, _OPEN)
    try:
        return _get(fd) & KEPT
    except OSError as exc:
        if exc.errno in UNSUPPORTED:
            return 0
        raise
    finally:
        os.close(fd)


def _get(fd: int) -> int:
    return struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, struct.pack("i", 0)))[0]


def write_flags(path: bytes | str, flags: int) -> None:
    """Makes the kept flags of path exactly `flags`, leaving the filesystem's own flags (extents
    and the like) as they are. OSError with an errno in UNSUPPORTED when the filesystem does
    not take one of them."""
    fd = os.open(path, _OPEN)
    try:
        current = _get(fd)
        wanted = (current & ~KEPT) | (flags & KEPT)
        if wanted != current:
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", wanted))
    finally:
        os.close(fd)


def clear_locking(path: bytes | str) -> bool:
    """Takes immutable and append-only off path, so it can be replaced; True if it had one."""
    try:
        flags = read_flags(path)
    except OSError:
        return False  # missing, a symlink, a device: nothing to clear
    if not flags & LOCKING:
        return False
    write_flags(path, flags & ~LOCKING)
    return True
