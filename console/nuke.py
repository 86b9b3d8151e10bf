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

from .answering import SHELL, PassphraseFile, run_shell
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
PASSPHRASE_HINT = ("Give nuke mode the passphrase with --passphrase-file FILE "
                   "(restore.passphrase_file= on the rescue system's kernel command line).")
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


def nuke_answerer(volume_wait: float, passphrase_file: str | None, say):
    """Nobody at the keyboard: a failed step retried once, a volume waited for, a LUKS
    passphrase taken from --passphrase-file (else the restore stops in words before anything
    is written); any other question stops it."""
    volumes = VolumeWaiter(volume_wait, say=say, hint=VOLUME_HINT)
    answerer = PolicyAnswerer(NUKE_POLICY, retries=RETRIES, say=say, why="nuke mode's policy",
                              fallback=volumes)
    if passphrase_file:
        return PassphraseFile(passphrase_file, answerer)

    def without_passphrase(question) -> None:
        if question.kind == QuestionKind.PASSPHRASE:
            raise RestoreError(f"Asked, with nobody to answer: {question}", PASSPHRASE_HINT)
        answerer(question)

    return without_passphrase


def nuke(args, ctrl_c_cancels) -> int:
    """Plans (or loads the plan), applies, verifies and finalizes; 0 done, 1 failed (a
    RestoreError). ctrl_c_cancels: the command line's Ctrl-C, which cancels at a safe point."""
    from .core.planning.boot import FinalizeOptions
    from .core.planning.choices import certain_plan
    out = Printer(sys.stdout, plain=True)
    say = lambda text: print(text, flush=True)  # noqa: E731
    wait = VOLUME_WAIT if getattr(args, "volume_wait", None) is None else args.volume_wait
    # A volume asked for (the next disc or tape) is waited for: someone may be there to change
    # it, with nobody at the keyboard.
    listener = answering(out, nuke_answerer(wait, getattr(args, "nuke_passphrase_file", None),
                                            say))
    fleet = None
    if not args.nuke_plan and args.set_path:
        from .fleet import FleetRun
        fleet = FleetRun.find(args.set_path)
    if fleet is not None:
        return _fleet_nuke(args, fleet, ctrl_c_cancels, out, say, listener)
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
    _apply(plan, ctrl_c_cancels, out, listener)
    _done(args)
    return 0


def _apply(plan, ctrl_c_cancels, out, listener):
    from .core.applying.restore import apply_plan
    from .core.applying.verify import checked_words
    from .core.planning.plan import render
    print(render(plan), flush=True)
    log.info("nuke mode applies the plan:\n%s", render(plan))
    with ctrl_c_cancels() as cancel:
        result = apply_plan(plan, listener, cancel)
    out.close()
    print(f"Restored {result.summary()} in {duration(result.seconds)}; every file matched its "
          f"BLAKE3; compared with the set: {checked_words(result.verified, result.covered, 0)}.",
          flush=True)
    print_finalized(result)
    return result


def _done(args) -> None:
    if args.log_path:
        print(f"The log: {args.log_path}")
    print("restore-console: nuke mode done.", flush=True)
    sys.stdout.flush()
    _after(args.after)


def _fleet_nuke(args, fleet, ctrl_c_cancels, out, say, listener) -> int:
    """This machine's plan from the fleet map: the pre hook, the restore, the post hook with
    the restored system mounted, then the log and a JSON result back to the share (also when
    something failed: then the error is in it and nuke mode ends with it)."""
    import time

    from .core.applying.fleet import send_report
    from .core.applying.targetroot import mounted_targets
    from .core.backupset.manifest import load_set
    from .fleet import run_hook
    started = time.time()
    entry = fleet.entry
    say(f"restore-console: nuke mode, the set {args.set_path} with the plan {entry.plan} "
        f"(line {entry.line} of {fleet.map_path}, for {entry.address})")
    report = {"ok": False, "error": None, "matched": entry.address, "machine": fleet.machine,
              "map": fleet.map_path, "map_line": entry.line, "plan": entry.plan,
              "pre": entry.pre, "post": entry.post, "set": args.set_path,
              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))}
    host = "unknown"
    try:
        if args.nuke_new_uuids or args.nuke_initramfs or args.nuke_images:
            raise UsageError("The fleet map's plan carries the targets and the finalize; "
                             "--image, --new-uuids and --rebuild-initramfs do not go with it.")
        backup_set = load_set(args.set_path)
        host = backup_set.host
        plan = load_plan(entry.plan)
        if plan.set_id != backup_set.set_id:
            raise RestoreError(f"The plan {entry.plan} is for the set {plan.set_id}, and the set "
                               f"at {args.set_path} is {backup_set.set_id}. Nothing was written.",
                               "Make the plan again for this set, or correct the map.")
        plan.set_path = backup_set.path  # where the set is read here, whoever made the plan
        report.update(host=plan.host, set_id=plan.set_id)
        targets = [disk.target.path for disk in plan.disks]
        report["targets"] = targets
        if entry.pre:
            run_hook(entry.pre, fleet.environment("pre", args.set_path, plan.host, targets), say)
        result = _apply(plan, ctrl_c_cancels, out, listener)
        report["restored"] = result.summary()
        if entry.post:
            mapping = {disk.source: disk.target.path for disk in plan.disks}
            with mounted_targets(backup_set, mapping, read_only=False) as root:
                run_hook(entry.post, fleet.environment("post", args.set_path, plan.host,
                                                       targets, root), say)
        report["ok"] = True
    except RestoreError as exc:
        report["error"] = f"{exc.message} {exc.hint}".strip()
        raise
    except BaseException as exc:  # the command line says it in words; the share gets it too
        report["error"] = f"unexpected failure: {exc!r}"
        raise
    finally:
        report["seconds"] = round(time.time() - started, 1)
        for handler in log.handlers:
            handler.flush()
        written, why_not = send_report(fleet.share, report.get("host", host), started,
                                       args.log_path, report)
        for path in written:
            say(f"restore-console: wrote {path}")
        if why_not:
            say(f"restore-console: the log stays here only: {why_not}.")
    _done(args)
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
