"""What a restore of selected files would write over, found before anything is written.

A selected entry that is not a directory replaces whatever is at its destination; a selected
directory merges with one that is there (only a non-directory in its place is replaced). So
the entries a restore would replace are the selected non-directories whose destination exists,
and the selected directories whose destination is something else. The operator is told how
many, their size and the first few paths, and chooses the policy (see EXISTING_POLICIES in
partial.py: overwrite, skip, or keep those newer than the set's copy, as tar's
--keep-newer-files decides: by modification time).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from ..backupset.catalog import Catalog
from ..backupset.inodeflags import LOCKING, read_flags
from ..backupset.manifest import BackupSet
from ..backupset.selection import Selection
from ..backupset.tarscan import parent_and_name
from ..units import count, size
from .partial import destination

SHOWN_PATHS = 5


@dataclass
class Existing:
    """The entries of a selection already at their destination, which a restore replaces."""

    entries: int = 0
    bytes: int = 0  # their size there now (regular files)
    newer: int = 0  # of them, those newer there than in the set: "newer" keeps them
    newer_bytes: int = 0
    paths: list[str] = field(default_factory=list)  # the first SHOWN_PATHS, as shown
    # Immutable or append-only there (chattr +i, +a): the restore takes the flag off first.
    locked: int = 0
    locked_paths: list[str] = field(default_factory=list)  # the first SHOWN_PATHS

    def add(self, other: "Existing") -> None:
        self.locked += other.locked
        self.locked_paths += other.locked_paths[: SHOWN_PATHS - len(self.locked_paths)]
        self.entries += other.entries
        self.bytes += other.bytes
        self.newer += other.newer
        self.newer_bytes += other.newer_bytes
        self.paths += other.paths[: SHOWN_PATHS - len(self.paths)]

    def replaced(self, policy: str) -> tuple[int, int]:
        """(entries, bytes) replaced under the policy: overwrite, skip or newer."""
        if policy == "skip":
            return 0, 0
        if policy == "newer":
            return self.entries - self.newer, self.bytes - self.newer_bytes
        return self.entries, self.bytes

    def words(self, policy: str) -> str:
        """3 existing files (18.2 KiB) would be replaced: /a, /b, /c."""
        replaced, nbytes = self.replaced(policy)
        more = self.entries - len(self.paths)
        return (f"{count(replaced, 'existing file')} ({size(nbytes)}) would be replaced"
                + (f" ({count(self.newer, 'newer file')} kept)" if policy == "newer" else "")
                + f": {', '.join(self.paths)}" + (f" and {more} more" if more > 0 else "") + "."
                + (self.locked_words() if policy == "overwrite" else ""))

    def locked_words(self) -> str:
        """' 1 of them is immutable or append-only (/etc/resolv.conf): ...', or ''."""
        if not self.locked:
            return ""
        more = self.locked - len(self.locked_paths)
        return (f" {count(self.locked, 'entry')} immutable or append-only "
                f"({', '.join(self.locked_paths)}" + (f" and {more} more" if more > 0 else "")
                + "): the restore takes the flag off, replaces "
                + ("it" if self.locked == 1 else "them") + " and sets the set's flags.")


def existing_at(catalog: Catalog, selection: Selection, dest: str, shown: str) -> Existing:
    """What the selection of one filesystem would replace in dest, the directory standing for
    its root; paths are shown under `shown` (dest itself, or the original mount point)."""
    found = Existing()
    dest_b = os.fsencode(dest.rstrip("/"))
    shown_b = os.fsencode(shown.rstrip("/"))
    absent: set[bytes] = set()  # directories not at the destination: nothing below them is
    for sql, params in selection.conditions():
        for entry in catalog.entries_where(selection.fs, sql, params):
            inner = entry.path if entry.path != b"/" else b""
            if parent_and_name(entry.path)[0] in absent:
                if entry.kind == "dir":
                    absent.add(entry.path)
                continue
            try:
                st = os.lstat(dest_b + inner)
            except FileNotFoundError:
                if entry.kind == "dir":
                    absent.add(entry.path)
                continue
            except NotADirectoryError:
                continue  # a file on the way: its own entry, above, is the one replaced
            where = os.fsdecode(shown_b + inner) or "/"
            if _locked(dest_b + inner, st):
                found.locked += 1
                if len(found.locked_paths) < SHOWN_PATHS:
                    found.locked_paths.append(where)
            if entry.kind == "dir" and stat.S_ISDIR(st.st_mode):
                continue
            found.entries += 1
            nbytes = st.st_size if stat.S_ISREG(st.st_mode) else 0
            found.bytes += nbytes
            if st.st_mtime_ns > entry.mtime_ns:
                found.newer += 1
                found.newer_bytes += nbytes
            if len(found.paths) < SHOWN_PATHS:
                found.paths.append(where)
    return found


def _locked(path: bytes, st: os.stat_result) -> bool:
    """Whether path is an immutable or append-only file or directory."""
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return False
    try:
        return bool(read_flags(path) & LOCKING)
    except OSError:
        return False


def existing_into(backup_set: BackupSet, selections: list[Selection], into: str) -> Existing:
    """What restoring the selections under into (each entry at into + its original path)
    would replace there."""
    into = os.path.abspath(into)
    found = Existing()
    with Catalog(backup_set.catalog_path) as catalog:
        for selection in selections:
            if selection:
                dest = destination(into, backup_set.filesystem(selection.fs), backup_set)
                found.add(existing_at(catalog, selection, dest, dest))
    return found
