"""The one exception type the operator sees: what went wrong, and what to do next."""

from __future__ import annotations


class RestoreError(Exception):
    """A failure explained in words. `hint` says what the operator can do about it."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class UsageError(RestoreError):
    """The command line itself is wrong (exit code 2)."""


class Cancelled(RestoreError):
    """The operator cancelled. Raised at the core's safe points once the cancel token is set
    (cancel.py); the core unwinds (kills tar, unmounts, detaches) as for any other failure."""

    def __init__(self, message: str = "Cancelled by the operator.", hint: str = ""):
        super().__init__(message, hint)
