"""Nuke mode for a fleet: this machine's line of plans/map (core/planning/fleet.py) gives its plan
and its hooks; the hooks run here, the report goes back to the share (core/applying/fleet.py).

A hook is the operator's program, run with the environment below; an executable file runs
itself (its #! line), another is run with /bin/sh. Its output goes to the console and the log;
an exit status other than 0 stops nuke mode in words (a pre hook: before anything is written).

    RESTORE_PHASE    pre or post
    RESTORE_ROOT     post only: the restored system, its filesystems mounted read-write
    RESTORE_SET      the set's directory        RESTORE_SHARE  the share's root (plans/ is there)
    RESTORE_PLAN     the plan file              RESTORE_HOST   the host name of the set
    RESTORE_MATCHED  the MAC or IP address of this machine that the map named
    RESTORE_TARGETS  the target disks, separated by blanks
"""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import dataclass

from .core.errors import RestoreError
from .core.planning.fleet import FleetEntry, choose, find_map, read_map, this_machine

log = logging.getLogger("restore_console")


@dataclass
class FleetRun:
    map_path: str
    share: str  # the directory holding plans/ (and logs/)
    entry: FleetEntry
    machine: str  # this machine's addresses, in words

    @classmethod
    def find(cls, set_dir: str) -> "FleetRun | None":
        """This machine's line of the map beside the set; None when there is no map. A map
        without a line for this machine is refused: the share is a fleet's, and nuke mode
        does not guess which plan a machine it does not know should get."""
        path = find_map(set_dir)
        if path is None:
            return None
        mine = this_machine()
        entry = choose(read_map(path), mine, path)
        if entry is None:
            raise RestoreError(f"The fleet map {path} has no line for this machine ({mine}). "
                               "Nothing was written.",
                               "Add a line with one of its addresses and its plan, or boot it "
                               "with restore.plan= for a plan of its own.")
        # the share: where plans/ is (logs/ goes beside it)
        return cls(path, os.path.dirname(os.path.dirname(path)), entry, str(mine))

    def environment(self, phase: str, set_dir: str, host: str, targets: list[str],
                    root: str | None = None) -> dict[str, str]:
        env = {"RESTORE_PHASE": phase, "RESTORE_SET": set_dir, "RESTORE_SHARE": self.share,
               "RESTORE_PLAN": self.entry.plan, "RESTORE_HOST": host,
               "RESTORE_MATCHED": self.entry.address, "RESTORE_TARGETS": " ".join(targets)}
        if root is not None:
            env["RESTORE_ROOT"] = root
        return env


def run_hook(path: str, env: dict[str, str], say) -> None:
    """Runs one hook with env added to the environment; a failure is a RestoreError."""
    phase = env["RESTORE_PHASE"]
    if not os.path.isfile(path):
        raise RestoreError(f"The {phase} hook {path} named in the fleet map does not exist.",
                           "Put it on the share, or correct the map.")
    argv = [path] if os.access(path, os.X_OK) else ["/bin/sh", path]
    say(f"restore-console: running the {phase} hook {path}")
    log.info("%s hook: %s with %s", phase, " ".join(argv), env)
    try:
        proc = subprocess.run(argv, env={**os.environ, **env}, cwd=os.path.dirname(path),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    except OSError as exc:
        raise RestoreError(f"The {phase} hook {path} cannot be run: {exc.strerror}.",
                           "Give it a #! line and make it executable, or make it a shell "
                           "script.") from None
    for line in proc.stdout.decode(errors="replace").splitlines():
        say(f"  {phase} hook: {line}")
    log.info("%s hook %s ended with %d", phase, path, proc.returncode)
    if proc.returncode != 0:
        raise RestoreError(f"The {phase} hook {path} failed (exit status {proc.returncode}).",
                           "Its output is above and in the log.")
