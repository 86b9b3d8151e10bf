"""How a run of a job ended, for the progress screen that runs it and the done screen that says
it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .job import Job, Phase


@dataclass
class Outcome:
    """How a run ended: what was restored, what the comparison found, or why it stopped."""

    job: Job
    restored: object | None = None  # RestoreResult
    verified: object | None = None  # VerifyResult; None when skipped or not reached
    seconds: float = 0.0
    cancelled_in: Phase | None = None  # the phase the operator cancelled in
    cancelled: BaseException | None = None  # the core's Cancelled: what state it left
    error: BaseException | None = None
    failed_in: Phase | None = None
    verify_skipped: bool = False
    notes: list[str] = field(default_factory=list)  # what the operator should know besides
