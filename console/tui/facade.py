"""What the console app calls in console.core, in one place: tests replace single parts.

The defaults are the real core calls. Core modules are imported when first used, so the first
screen paints without waiting for pyparted, zstandard and the rest.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, ContextManager, Iterator

from ..core.cancel import ENDING_SIGNALS

if TYPE_CHECKING:
    from ..core.applying.existing import Existing
    from ..core.applying.inplace import Place
    from ..core.applying.partial import SelectionResult
    from ..core.applying.restore import RestoreResult
    from ..core.applying.verify import VerifyResult
    from ..core.backupset.found import FoundSet
    from ..core.backupset.manifest import BackupSet
    from ..core.backupset.selection import Selection
    from ..core.cancel import CancelToken
    from ..core.disks.discovery import TargetDisk
    from ..core.events import Listener
    from ..core.planning.plan import Plan

ShellRunner = Callable[[list[str], str, dict[str, str]], int]

SHELL_BANNER = ("\nrestore-console: expert shell in {cwd}.\n"
                "Type 'exit' (or Ctrl-D) to go back to the console, where you left it.\n")


def load_set(path: str) -> BackupSet:
    from ..core.backupset.manifest import load_set
    return load_set(path)


def find_sets() -> list[FoundSet]:
    """The sets on this machine's discs, tapes, disks and shares (core/backupset/found.py)."""
    from ..core.backupset.found import find_sets
    return find_sets()


def open_found(found: FoundSet) -> str:
    """The SET to load for a set found (a partition is mounted read-only for it)."""
    from ..core.backupset.found import open_found
    return open_found(found)


def apply_plan(plan: Plan, listener: Listener, cancel: CancelToken) -> RestoreResult:
    from ..core.applying.restore import apply_plan
    return apply_plan(plan, listener, cancel)


def verify_targets(set_path: str, mapping: dict[str, str], listener: Listener) -> VerifyResult:
    from ..core.applying.targetroot import verify_targets
    return verify_targets(set_path, mapping, listener)


def mounted_targets(backup_set: BackupSet, mapping: dict[str, str]) -> ContextManager[str]:
    """The restored system mounted read-write, for the expert shell after a restore."""
    from ..core.applying.targetroot import mounted_targets
    return mounted_targets(backup_set, mapping, read_only=False)


def discover_targets(set_path: str, images: list[str]) -> list[TargetDisk]:
    """This machine's disks, or only the given image files (the demo never offers real disks)."""
    from ..core.disks.discovery import discover_targets
    if images:
        return discover_targets(set_path, images, records=())
    return discover_targets(set_path)


def block_monitor():
    """A started pyudev monitor of disks coming and going, or None where there is none to
    have (no netlink socket, not root): the lists then change only when reopened."""
    from ..core.disks.discovery import block_monitor
    try:
        return block_monitor()
    except (OSError, ImportError) as exc:
        import logging
        logging.getLogger("restore_console").warning("no hot-plug monitor: %s", exc)
        return None


def open_trees(backup_set: BackupSet):
    """The set's file trees for the picker (its catalog opened read-only)."""
    from ..core.backupset.catalog import Catalog
    from ..core.backupset.settree import SetTrees
    return SetTrees(backup_set, Catalog(backup_set.catalog_path))


def restore_selection(backup_set: BackupSet, selections: list[Selection], into: str,
                      existing: str, listener: Listener, cancel: CancelToken) -> SelectionResult:
    from ..core.applying.partial import restore_selection
    return restore_selection(backup_set, selections, into, existing=existing, listener=listener,
                             cancel=cancel)


def find_places(backup_set: BackupSet, images: list[str]) -> list[Place]:
    """Where selected files can go back to: the disks holding the set's filesystems (found by
    type and UUID among this machine's disks, or only among the image files in the demo).
    Among image files, the set's original disks that are image files (the demo's source disk)
    are searched too: they are the original place, as a machine's own disks are."""
    from ..core.applying.inplace import find_places
    if images:
        originals = [disk.name for disk in backup_set.disks if os.path.isfile(disk.name)]
        images = [*images, *(path for path in originals if path not in images)]
    return find_places(backup_set, discover_targets(backup_set.medium.where, images))


def restore_in_place(backup_set: BackupSet, selections: list[Selection], mapping: dict[str, str],
                     existing: str, listener: Listener, cancel: CancelToken) -> SelectionResult:
    from ..core.applying.inplace import restore_in_place
    return restore_in_place(backup_set, selections, mapping, existing=existing,
                            listener=listener, cancel=cancel)


def existing_into(backup_set: BackupSet, selections: list[Selection], into: str) -> Existing:
    """What restoring the selections into a directory would replace there."""
    from ..core.applying.existing import existing_into
    return existing_into(backup_set, selections, into)


def existing_in_place(backup_set: BackupSet, selections: list[Selection],
                      mapping: dict[str, str]) -> Existing:
    """What restoring the selections in place would replace (the filesystems mounted
    read-only to look)."""
    from ..core.applying.inplace import existing_in_place
    return existing_in_place(backup_set, selections, mapping)




class ShellHangUp:
    """While the shell runs, an ending signal hangs it up (SIGHUP: an interactive shell ignores
    SIGTERM, and passes a hang-up on to its jobs), so that the app gets its terminal back and
    unmounts what the shell was given; the app's own handler then ends the app (the event
    loop hears of the signal too, once it runs again)."""

    def __init__(self) -> None:
        self.shell: subprocess.Popen | None = None
        self.came = False

    def __call__(self, signum, frame) -> None:
        self.came = True
        if self.shell is not None:
            self.shell.send_signal(signal.SIGHUP)

    def started(self, shell: subprocess.Popen) -> None:
        self.shell = shell
        if self.came:  # the signal came while the shell was being started
            shell.send_signal(signal.SIGHUP)

    @contextlib.contextmanager
    def installed(self) -> Iterator[ShellHangUp]:
        previous = {signum: signal.signal(signum, self) for signum in ENDING_SIGNALS}
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def run_shell(argv: list[str], cwd: str, env: dict[str, str]) -> int:
    """Runs the shell on the terminal the app handed back; returns its exit status."""
    sys.stdout.write(SHELL_BANNER.format(cwd=cwd))
    sys.stdout.flush()
    with ShellHangUp().installed() as hang_up:
        try:
            # The terminal itself: while the console runs, fd 2 goes to the log (tui/terminal.py).
            shell = subprocess.Popen(argv, cwd=cwd, env=env, stderr=sys.__stderr__)
        except OSError as exc:
            sys.stdout.write(f"restore-console: cannot start {argv[0]}: {exc.strerror}\n")
            input("Press Enter to go back to the console. ")
            return 127
        with shell:
            hang_up.started(shell)
            return shell.wait()


def reboot() -> None:
    subprocess.run(["reboot"], check=False)


@dataclass
class Core:
    """The core calls the app makes; every field can be replaced (tests, the demo)."""

    load_set: Callable[[str], BackupSet] = load_set
    find_sets: Callable[[], list[FoundSet]] = find_sets
    open_found: Callable[[FoundSet], str] = open_found
    apply_plan: Callable[[Plan, Listener, CancelToken], RestoreResult] = apply_plan
    verify_targets: Callable[[str, dict[str, str], Listener], VerifyResult] = verify_targets
    mounted_targets: Callable[[BackupSet, dict[str, str]], ContextManager[str]] = mounted_targets
    discover_targets: Callable[[str, list[str]], list[TargetDisk]] = discover_targets
    block_monitor: Callable[[], object] = block_monitor
    open_trees: Callable[[BackupSet], object] = open_trees
    restore_selection: Callable[..., SelectionResult] = restore_selection
    find_places: Callable[[BackupSet, list[str]], list[Place]] = find_places
    restore_in_place: Callable[..., SelectionResult] = restore_in_place
    existing_into: Callable[[BackupSet, list[Selection], str], Existing] = existing_into
    existing_in_place: Callable[[BackupSet, list[Selection], dict[str, str]], Existing] = \
        existing_in_place
    run_shell: ShellRunner = run_shell
    reboot: Callable[[], None] = reboot
    is_root: Callable[[], bool] = lambda: os.geteuid() == 0
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
