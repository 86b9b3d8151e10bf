"""What the operator asked for, carried from screen to screen: the set, which original disk goes
onto which target, and whether to restore or only compare."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .core.backupset import BackupSet

RESTORE = "restore"
VERIFY = "verify"


@dataclass
class Job:
    kind: str  # RESTORE | VERIFY
    backup_set: BackupSet
    mapping: dict[str, str] = field(default_factory=dict)  # original disk name -> target path
    titles: dict[str, str] = field(default_factory=dict)  # target path -> how the operator knows it

    @property
    def set_path(self) -> str:
        return self.backup_set.path

    def target_names(self) -> list[str]:
        """The short names the operator types to confirm (sdb, target-same-size.img)."""
        return [os.path.basename(target) for target in self.mapping.values()]

    def targets_text(self) -> str:
        return ", ".join(os.path.basename(target) for target in self.mapping.values())
