"""What the console app calls in console.core, in one place: tests replace single parts.

The defaults are the real core calls. Core modules are imported when first used, so the first
screen paints without waiting for pyparted, zstandard and the rest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, ContextManager

if TYPE_CHECKING:
    from .core.backupset import BackupSet
    from .core.events import Listener
    from .core.layout import Disk
    from .core.restore import RestoreResult
    from .core.review import Totals
    from .core.targets import TargetChoice
    from .core.verify import VerifyResult

ShellRunner = Callable[[list[str], str, dict[str, str]], int]

SHELL_BANNER = ("\nrestore-console: expert shell in {cwd}.\n"
                "Type 'exit' (or Ctrl-D) to go back to the console, where you left it.\n")


def load_set(path: str) -> BackupSet:
    from .core.backupset import load_set
    return load_set(path)


def restore(set_path: str, mapping: dict[str, str], listener: Listener) -> RestoreResult:
    from .core.restore import restore
    return restore(set_path, mapping, listener)


def verify_targets(set_path: str, mapping: dict[str, str], listener: Listener) -> VerifyResult:
    from .core.targetroot import verify_targets
    return verify_targets(set_path, mapping, listener)


def mounted_targets(backup_set: BackupSet, mapping: dict[str, str]) -> ContextManager[str]:
    """The restored system mounted read-write, for the expert shell after a restore."""
    from .core.targetroot import mounted_targets
    return mounted_targets(backup_set, mapping, read_only=False)


def list_targets(images: list[str]) -> list[TargetChoice]:
    """This machine's disks, or only the given image files (the demo never offers real disks)."""
    from .core.targets import block_devices, image_files
    return image_files(images) if images else block_devices()


def target_problems(choice: TargetChoice, disk: Disk, set_path: str, writing: bool) -> list[str]:
    from .core.targets import problems
    return problems(choice, disk, set_path, writing=writing)


def review_text(backup_set: BackupSet, mapping: dict[str, str], titles: dict[str, str]) -> str:
    from .core.review import review_text
    return review_text(backup_set, mapping, titles)


def restore_totals(backup_set: BackupSet, mapping: dict[str, str]) -> Totals:
    from .core.review import restore_totals
    return restore_totals(backup_set, mapping)


def run_shell(argv: list[str], cwd: str, env: dict[str, str]) -> int:
    """Runs the shell on the terminal the app handed back; returns its exit status."""
    sys.stdout.write(SHELL_BANNER.format(cwd=cwd))
    sys.stdout.flush()
    try:
        return subprocess.call(argv, cwd=cwd, env=env)
    except OSError as exc:
        sys.stdout.write(f"restore-console: cannot start {argv[0]}: {exc.strerror}\n")
        input("Press Enter to go back to the console. ")
        return 127


def reboot() -> None:
    subprocess.run(["reboot"], check=False)


@dataclass
class Core:
    """The core calls the app makes; every field can be replaced (tests, the demo)."""

    load_set: Callable[[str], BackupSet] = load_set
    restore: Callable[[str, dict[str, str], Listener], RestoreResult] = restore
    verify_targets: Callable[[str, dict[str, str], Listener], VerifyResult] = verify_targets
    mounted_targets: Callable[[BackupSet, dict[str, str]], ContextManager[str]] = mounted_targets
    list_targets: Callable[[list[str]], list[TargetChoice]] = list_targets
    target_problems: Callable[[TargetChoice, Disk, str, bool], list[str]] = target_problems
    review_text: Callable[[BackupSet, dict[str, str], dict[str, str]], str] = review_text
    restore_totals: Callable[[BackupSet, dict[str, str]], Totals] = restore_totals
    run_shell: ShellRunner = run_shell
    reboot: Callable[[], None] = reboot
    is_root: Callable[[], bool] = lambda: os.geteuid() == 0
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
