"""What the operator asked for, carried from screen to screen: the set, which original disk goes
onto which target, the plan of a restore, and whether to restore or only compare."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum

from ..core.backupset.manifest import BackupSet
from ..core.planning.plan import Plan


class JobKind(Enum):
    """What the operator asked for."""

    RESTORE = "restore"  # the whole machine, or a clone onto other disks
    VERIFY = "verify"  # compare the disks with the set, only reading
    FILES = "files"  # selected files, in place or into a directory


class Phase(Enum):
    """Where a run is: restoring (disks or files), then comparing with the set."""

    RESTORE = "restore"
    VERIFY = "verify"


@dataclass(frozen=True)
class Totals:
    """How much a run writes (bytes from the set, files), and how many bytes the comparison
    afterwards reads (what the mounted filesystems use)."""

    bytes: int = 0
    files: int = 0
    verify_bytes: int = 0


@dataclass
class Job:
    kind: JobKind
    backup_set: BackupSet
    mapping: dict[str, str] = field(default_factory=dict)  # original disk name -> target path
    titles: dict[str, str] = field(default_factory=dict)  # target path -> how the operator knows it
    plan: Plan | None = None  # what a restore does; None for a comparison
    files: object | None = None  # JobKind.FILES: the picker's RestoreChoice
    files_totals: Totals | None = None  # JobKind.FILES: entries and bytes selected

    @property
    def set_path(self) -> str:
        return self.backup_set.medium.where

    def target_names(self) -> list[str]:
        """The short names the operator types to confirm (sdb, target-same-size.img)."""
        return [os.path.basename(target) for target in self.mapping.values()]

    def targets_text(self) -> str:
        if self.kind == JobKind.FILES:
            return self.files.where()
        return ", ".join(os.path.basename(target) for target in self.mapping.values())

    def totals(self) -> Totals:
        """What the plan writes (Plan.totals); the comparison reads what the mounted filesystems
        of the mapped disks use."""
        if self.kind == JobKind.FILES:
            return self.files_totals or Totals()
        backup_set = self.backup_set
        size = files = 0
        if self.plan is not None and self.kind == JobKind.RESTORE:
            written = self.plan.totals(backup_set)
            size, files = written.bytes, written.files
        verify_bytes = sum(fs.bytes_used for fs in backup_set.filesystems
                           if fs.disk in self.mapping and fs.archive is not None
                           and fs.archive.kind == "tar" and fs.place)
        return Totals(size, files, verify_bytes)
