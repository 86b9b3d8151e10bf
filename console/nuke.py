"""Nuke mode: the restore unattended, from a plan or a certain suggestion, in plain lines.

`restore-console --nuke [--set SET] [--plan FILE] [--after reboot|poweroff|shell]`, and what
the rescue system runs for restore=nuke. It never guesses: a mapping that is not certain or an
unsafe target stops it in words before anything is written (exit 1). Questions are answered by
policy: a failed step is retried once, then the restore stops in words; nobody is waiting at
the console to answer anything else. Progress goes to standard output as plain lines, readable
on a serial console and kept whole in a console log.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from .answering import SHELL, run_shell
from .core.errors import RestoreError, UsageError
from .core.questions import RETRY, PolicyAnswerer, QuestionKind, VolumeWaiter, answering
from .core.units import duration
from .printer import Printer, print_finalized

log = logging.getLogger("restore_console")

NUKE_POLICY = {QuestionKind.STEP_FAILED: RETRY}
RETRIES = 1
VOLUME_WAIT = 300.0  # seconds nuke mode waits for a volume it asks for (--volume-wait)
VOLUME_HINT = ("Put the volumes in as they are asked for, or give a longer --volume-wait "
               "(restore.volume_wait= on the rescue system's kernel command line).")
# What follows a restore that succeeded, in the rescue system (-f: no init to ask there).
AFTER_COMMANDS = {"reboot": ["reboot", "-f"], "poweroff": ["poweroff", "-f"]}


def load_plan(path: str):
    from .core.planning.plan import Plan
    try:
        with open(path) as f:
            return Plan.from_json(json.load(f))
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise RestoreError(f"The plan {path} cannot be read: {exc.strerror}. Nothing was "
                           "written.", "Name the file 'restore-console plan ... --save FILE' "
                                       "wrote.") from None
    except (OSError, ValueError, KeyError) as exc:
        raise RestoreError(f"The plan {path} cannot be read: {exc}. Nothing was written.",
                           "Save it again with 'restore-console plan ... --save FILE'.") \
            from None


def nuke(args, ctrl_c_cancels) -> int:
    """Plans (or loads the plan), applies, verifies and finalizes; 0 done, 1 failed (a
    RestoreError). ctrl_c_cancels: the command line's Ctrl-C, which cancels at a safe point."""
    from .core.applying.restore import apply_plan
    from .core.applying.verify import checked_words
    from .core.planning.boot import FinalizeOptions
    from .core.planning.choices import certain_plan
    from .core.planning.plan import render
    out = Printer(sys.stdout, plain=True)
    say = lambda text: print(text, flush=True)  # noqa: E731
    wait = VOLUME_WAIT if getattr(args, "volume_wait", None) is None else args.volume_wait
    # A volume asked for (the next disc or tape) is waited for: someone may be there to change
    # it, with nobody at the keyboard.
    volumes = VolumeWaiter(wait, say=say, hint=VOLUME_HINT)
    answerer = PolicyAnswerer(NUKE_POLICY, retries=RETRIES, say=say, why="nuke mode's policy",
                              fallback=volumes)
    listener = answering(out, answerer)
    if args.nuke_plan:
        if args.nuke_new_uuids or args.nuke_initramfs or args.nuke_images:
            raise UsageError("--plan carries the targets and the finalize; --image, "
                             "--new-uuids and --rebuild-initramfs go with --set instead.")
        plan = load_plan(args.nuke_plan)
        if args.set_path and os.path.realpath(args.set_path) != os.path.realpath(plan.set_path):
            raise UsageError(f"--set {args.set_path} is not the plan's set ({plan.set_path}).",
                             "Give the plan alone, or the set it was made for.")
        say(f"restore-console: nuke mode, the plan {args.nuke_plan}")
    else:
        if not args.set_path:
            raise UsageError("Nuke mode needs the set (--set SET) or a plan (--plan FILE).",
                             "Example: restore-console --nuke --set /mnt/set")
        say(f"restore-console: nuke mode, the set {args.set_path} onto the suggested disks")
        plan = certain_plan(args.set_path, args.nuke_images,
                            FinalizeOptions(new_uuids=args.nuke_new_uuids,
                                            rebuild_initramfs=args.nuke_initramfs))
    print(render(plan), flush=True)
    log.info("nuke mode applies the plan:\n%s", render(plan))
    with ctrl_c_cancels() as cancel:
        result = apply_plan(plan, listener, cancel)
    out.close()
    print(f"Restored {result.summary()} in {duration(result.seconds)}; every file matched its "
          f"BLAKE3; compared with the set: {checked_words(result.verified, result.covered, 0)}.",
          flush=True)
    print_finalized(result)
    if args.log_path:
        print(f"The log: {args.log_path}")
    print("restore-console: nuke mode done.", flush=True)
    sys.stdout.flush()
    _after(args.after)
    return 0


def _after(action: str | None) -> None:
    """Reboot, power off or open a shell once the restore succeeded (--after)."""
    if action is None:
        return
    if action == SHELL:
        run_shell()
        return
    print(f"restore-console: {action} now", flush=True)
    log.info("nuke mode: %s", action)
    for handler in log.handlers:
        handler.flush()
    os.sync()
    try:
        subprocess.call(AFTER_COMMANDS[action])
    except OSError as exc:
        raise RestoreError(f"Could not {action}: {exc.strerror}.",
                           f"The restore is done; {action} the machine by hand.") from None
