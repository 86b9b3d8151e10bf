"""Inode flags after extraction: set back from the catalog, and compared by the verify.

Set after the data, and immutable and append-only after every other flag: a file that carries
them can no longer be written, nor its metadata changed.
"""

from __future__ import annotations

import errno
import logging

from ..backupset.catalog import Catalog
from ..backupset.inodeflags import (
    LOCKING,
    UNSUPPORTED,
    letters,
    read_flags,
    write_flags,
)
from ..events import Listener, Message
from ..units import count
from . import differences as said
from .ondisk import TreeOfFs

log = logging.getLogger("restore_console")
# A flag the filesystem does not take, or one only root may set (i and a): said, not fatal.
NOT_SET = (*UNSUPPORTED, errno.EPERM)


def restore_flags(catalog: Catalog, fs_id: int, tree: TreeOfFs, label: str,
                  listener: Listener, condition: str = "1", params: list | None = None) -> int:
    """Sets the recorded flags of the members meeting condition under tree. Flags the target
    filesystem does not take are said once, in words, and returned (as a mask): the others
    of the same entry are set all the same."""
    flagged = [(inner, flags) for inner, flags in catalog.flagged(fs_id, condition, params)
               if not tree.is_covered(inner)]
    refused = 0
    short: set[bytes] = set()  # the entries that keep fewer flags
    # Two passes: the flags that still let a file be changed first, the locking ones last.
    for locking_pass in (False, True):
        for inner, flags in flagged:
            if locking_pass and not flags & LOCKING:
                continue
            wanted = flags if locking_pass else flags & ~LOCKING
            try:
                not_taken = _write_what_is_taken(tree.path(inner), wanted)
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    raise
                continue  # not restored as the set has it: the verify says so
            if not_taken:
                refused |= not_taken
                short.add(inner)
                log.info("flags %s refused on %r", letters(not_taken), inner)
    if refused:
        listener(Message(f"{label}: the inode flags {letters(refused)} could not be set (the "
                         "target filesystem does not take them, or only root may set them); "
                         f"{count(len(short), 'entry')} "
                         f"{'keeps' if len(short) == 1 else 'keep'} fewer "
                         "flags than the set records (lsattr shows them)."))
    return refused


def _write_what_is_taken(path: bytes, flags: int) -> int:
    """Sets flags on path; where the filesystem refuses them together, one by one. Returns
    those it does not take."""
    try:
        write_flags(path, flags)
        return 0
    except OSError as exc:
        if exc.errno not in NOT_SET:
            raise
    taken = refused = 0
    for bit in (1 << n for n in range(32)):
        if flags & bit:
            try:
                write_flags(path, taken | bit)
                taken |= bit
            except OSError as exc:
                if exc.errno not in NOT_SET:
                    raise
                refused |= bit
    return refused


def flag_differences(catalog: Catalog, fs_id: int, tree: TreeOfFs, condition: str = "1",
                     params: list | None = None, leave_out: int = 0) -> list[tuple[bytes, str]]:
    """(inner path, what differs) for each member whose recorded flags are not on the disk,
    the flags in `leave_out` aside (those the restore was told the target does not take).
    Only members the set records flags for are read (one open each)."""
    found = []
    for inner, flags in catalog.flagged(fs_id, condition, params):
        if tree.is_covered(inner):
            continue
        try:
            on_disk = read_flags(tree.path(inner))
        except OSError:
            continue  # missing or of another kind: the metadata compare says so
        if on_disk & ~leave_out != flags & ~leave_out:
            found.append((inner, said.flags(letters(on_disk), letters(flags))))
    return found
