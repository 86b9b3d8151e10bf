"""Inode flags after extraction: set back from the catalog, and compared by the verify.

Set after the data, and immutable and append-only after every other flag: a file that carries
them can no longer be written, nor its metadata changed.
"""

from __future__ import annotations

import logging

from ..backupset.catalog import Catalog
from ..backupset.inodeflags import LOCKING, UNSUPPORTED, letters, read_flags, write_flags
from ..events import Listener, Message
from . import differences as said
from .ondisk import TreeOfFs

log = logging.getLogger("restore_console")


def restore_flags(catalog: Catalog, fs_id: int, tree: TreeOfFs, label: str,
                  listener: Listener, condition: str = "1", params: list | None = None) -> int:
    """Sets the recorded flags of the members meeting condition under tree; returns how many
    entries got them. Flags the target filesystem does not take are said once, in words."""
    flagged = [(inner, flags) for inner, flags in catalog.flagged(fs_id, condition, params)
               if not tree.is_covered(inner)]
    refused = 0
    refused_letters = set()
    done = 0
    # Two passes: the flags that still let a file be changed first, the locking ones last.
    for locking_pass in (False, True):
        for inner, flags in flagged:
            if locking_pass and not flags & LOCKING:
                continue
            wanted = flags if locking_pass else flags & ~LOCKING
            try:
                write_flags(tree.path(inner), wanted)
            except OSError as exc:
                if exc.errno not in UNSUPPORTED:
                    raise
                refused += 1
                refused_letters.update(letters(wanted))
                log.info("flags %s refused on %r: %s", letters(wanted), inner, exc)
                continue
            if locking_pass or not flags & LOCKING:
                done += 1
    if refused:
        listener(Message(f"{label}: the target filesystem does not take the inode flags "
                         f"{''.join(sorted(refused_letters))}; {refused} entries keep fewer "
                         "flags than the set records (lsattr shows them)."))
    return done


def flag_differences(catalog: Catalog, fs_id: int, tree: TreeOfFs, condition: str = "1",
                     params: list | None = None) -> list[tuple[bytes, str]]:
    """(inner path, what differs) for each member whose recorded flags are not on the disk.
    Only members the set records flags for are read (one open each)."""
    found = []
    for inner, flags in catalog.flagged(fs_id, condition, params):
        if tree.is_covered(inner):
            continue
        try:
            on_disk = read_flags(tree.path(inner))
        except OSError:
            continue  # missing or of another kind: the metadata compare says so
        if on_disk != flags:
            found.append((inner, said.flags(letters(on_disk), letters(flags))))
    return found
