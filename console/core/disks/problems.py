"""Why a disk of this machine cannot take an original disk: a kind, and its words.

Code decides by the kind (comparing only reads, so a read-only disk is fine there); the operator
reads the words. Nothing decides by matching the words.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ProblemKind(enum.Enum):
    HOLDS_SET = "holds the set"  # the backup set being restored is on it
    HOLDS_SYSTEM = "holds the running system"
    IN_USE = "in use"  # a mounted filesystem, active swap, a holder (dm, md)
    READ_ONLY = "read-only"
    TOO_SMALL = "too small"  # smaller than the smallest target the layout fits on
    LAYOUT_DOES_NOT_FIT = "layout does not fit"  # the layout, as edited, cannot be planned on it
    TAKEN = "taken by another disk"  # chosen as the target of another original disk
    NOT_FOUND = "not found"  # no disk of this machine nor image file by that name


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    words: str  # as the operator reads it: "in use: /dev/sdb1 is mounted at /mnt"

    def __str__(self) -> str:
        return self.words
