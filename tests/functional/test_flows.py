"""Pilot tests of every flow of the console, on the fixed stage (tests/functional/stage.py)."""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from datetime import timedelta

import pytest
from textual.drivers.headless_driver import HeadlessDriver
from textual.events import Key
from textual.widgets import Input, OptionList, RichLog

from console.core.applying.verify import Difference, VerifyResult
from console.core.events import Message, StepStarted
from console.core.questions import ask, passphrase
from console.tui.job import JobKind
from console.tui.screens.done import DoneScreen
from console.tui.screens.error import ErrorScreen
from console.tui.screens.help import HelpScreen
from console.tui.screens.log_view import LogScreen
from console.tui.screens.passphrase import PassphraseScreen
from console.tui.screens.question import QuestionScreen
from console.tui.screens.review import ReviewScreen
from console.tui.screens.start import StartScreen
from console.tui.screens.targets import TargetsScreen
from tests.functional.screentext import shown
from tests.functional.stage import (
    RESTORED,
    VERIFIED_WITH_DIFFERENCES,
    NOW,
    WEB01,
    Clock,
    FailingStep,
    FakeMount,
    Scripted,
    confirm,
    error,
    offered_choices,
    restore_events,
    restore_held_running,
    restore_to_done,
    stage_app,
    stage_core,
    to_review,
    wait_for,
)

SIZE = (80, 24)


# ---- start screen ----

async def test_start_screen_shows_the_set():
    app = stage_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        text = shown(app)
        assert "Backup of web-01, made 2026-03-14 02:30 UTC (3 hours ago)" in text
        assert "Disk sda: 40.0 GiB, GPT, 4 partitions, QEMU HARDDISK" in text
        assert "Disk sdb: 100.0 GiB, MBR, 1 partition, QEMU HARDDISK" in text
        assert "ext4 /home" in text and "3.1 GiB used" in text and "40,211 entries" in text
        assert "xfs /srv" in text and "42.0 GiB used" in text
        assert "[w] Restore the whole machine" in text
        assert "[f] Restore selected files" in text


async def test_the_sets_age_on_the_start_screen_keeps_up_with_the_clock(monkeypatch):
    monkeypatch.setattr(StartScreen, "AGE_REFRESH", 0.01, raising=False)
    now = [NOW]
    app = stage_app(stage_core(now=lambda: now[0]))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "made 2026-03-14 02:30 UTC (3 hours ago)" in shown(app)
        now[0] = NOW + timedelta(hours=2)  # the console left open
        await wait_for(pilot, lambda: "(5 hours ago)" in shown(app), "the age said again")
        assert "made 2026-03-14 02:30 UTC (5 hours ago)" in shown(app)

async def test_without_a_set_the_start_screen_says_what_to_do(tmp_path):
    app = stage_app(set_path=str(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = shown(app)
        assert f"{tmp_path} holds no backup set: manifest.json is missing." in text
        actions = app.screen.query_one("#actions", OptionList)
        assert actions.get_option("whole").disabled and actions.get_option("verify").disabled
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)


async def test_without_root_the_actions_that_need_it_say_so():
    app = stage_app(stage_core(is_root=lambda: False))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = shown(app)
        assert "Running without root" in text
        assert "[w] Restore the whole machine (needs root)" in text
        assert "[v] Compare the disks with the set (needs root)" in text
        actions = app.screen.query_one("#actions", OptionList)
        assert not actions.get_option("shell").disabled
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        assert "needs root" in str(app.screen.query_one("#status").render())


# ---- whole-machine restore ----

async def test_whole_machine_restore_from_start_to_done():
    core = stage_core()
    app = stage_app(core)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w")
        await pilot.pause()
        targets = app.screen
        assert isinstance(targets, TargetsScreen)
        # Suggested: each disk onto the same drive (its serial).
        assert targets.chosen == {"/dev/sda": "/dev/sda", "/dev/sdb": "/dev/sdb"}
        text = shown(app)
        assert "(*) sda: 40.0 GiB QEMU HARDDISK (serial QM00001)" in text
        # A larger disk is fine (resized); the disk holding the set is not.
        assert "the partitions are resized: 40.0 GiB -> 200.0 GiB" in text
        first = targets.query_one("#disk-0", OptionList)
        assert " ".join(str(first.get_option("/dev/sdd").prompt).split()) == \
            "( ) sdd: 16.0 GiB USB DISK (serial 0401) holds the backup set being restored"
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        review = " ".join(str(app.screen.query_one("#review-text").render()).split())
        # The plan as the core renders it: targets by model, serial and size, every step.
        assert "These disks will be OVERWRITTEN; everything on them is lost:" in review
        assert ("/dev/sdb: 100.0 GiB (107,374,182,400 bytes), QEMU HARDDISK, serial "
                "QM00002 receives original disk /dev/sdb (same serial (QM00002))") in review
        assert "16. Make xfs on partition 1 (100.0 GiB)" in review
        assert "21. Mount xfs /srv (partition 1) at /srv" in review
        assert "type the names of the targets and press Enter: sda sdb" in shown(app)

        await confirm(pilot, "sda")  # one of two names: not enough
        assert isinstance(app.screen, ReviewScreen)
        assert "That is not sda sdb. Nothing has been written" in shown(app)
        assert core.apply_plan.calls == []

        await confirm(pilot, "sdb sda")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert core.apply_plan.calls == [(WEB01, {"/dev/sda": "/dev/sda", "/dev/sdb": "/dev/sdb"})]
        assert core.verify_targets.calls == core.apply_plan.calls
        text = shown(app)
        assert "The machine is restored" in text
        # The same count of entries restored and compared, the mount points that cannot be
        # compared said; file data, never the archives' sizes.
        assert "Restored 318,679 entries (51.2 GiB of file data) and 1 filesystem image " \
               "(512.0 MiB) onto sda, sdb in 10 minutes and 12 seconds." in text
        assert "Comparison with the set: 318,677 of 318,679 entries checked, no differences " \
               "(2 mount points not: another filesystem is mounted over them)." in text
        assert "The log: /var/log/restore-console.log" in text
        # Back to the start screen, nothing left of the run on the stack.
        await pilot.press("b")
        await pilot.pause()
        assert [type(s) for s in app.screen_stack[1:]] == [StartScreen]


async def test_a_target_with_a_problem_cannot_be_chosen_and_one_picked_by_hand_says_so():
    app = stage_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w")
        await pilot.pause()
        screen = app.screen
        second = screen.query_one("#disk-1", OptionList)
        second.focus()
        # Unsafe: the disk the set is on. Too small for the layout: the resize's own words.
        assert second.get_option("/dev/sdd").disabled
        assert second.get_option("/dev/sde").disabled
        assert ("The layout of /dev/sdb does not fit on a target of 40.0 GiB (42,949,672,960 "
                "bytes): partition 1 (xfs /srv, 42.0 GiB used) needs at least 46.3 GiB") in \
            " ".join(str(second.get_option("/dev/sde").prompt).split())
        second.highlighted = second.get_option_index("/dev/sde")
        await pilot.press("enter")
        await pilot.pause()
        assert screen.chosen["/dev/sdb"] == "/dev/sdb"
        # A larger disk can be chosen: the layout is planned onto it.
        second.highlighted = second.get_option_index("/dev/sdc")
        await pilot.press("enter")
        await pilot.pause()
        assert screen.chosen == {"/dev/sda": "/dev/sda", "/dev/sdb": "/dev/sdc"}
        await pilot.press("n")
        await pilot.pause()
        review = " ".join(str(app.screen.query_one("#review-text").render()).split())
        assert "/dev/sdb: 100.0 GiB -> 200.0 GiB (msdos, proportional" in review
        # The disk picked by hand says so; the suggested one keeps the suggestion's reason.
        assert "receives original disk /dev/sdb (chosen by you)" in review
        assert "receives original disk /dev/sda (same serial (QM00001))" in review


async def test_only_one_disk_can_be_restored_and_the_review_says_what_is_left_out():
    app = stage_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w")
        await pilot.pause()
        second = app.screen.query_one("#disk-1", OptionList)
        second.focus()
        second.highlighted = second.get_option_index("--skip--")
        await pilot.press("enter", "n")
        await pilot.pause()
        review = " ".join(str(app.screen.query_one("#review-text").render()).split())
        assert ("original disk /dev/sdb: not restored (no target); its filesystems are left "
                "out") in review
        assert "/srv" not in review
        await confirm(pilot, "sda")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert app.core.apply_plan.calls[0][1] == {"/dev/sda": "/dev/sda"}


def burst(app, *keys: str) -> None:
    """Keys as a paste or a serial line delivers them: all queued before the app handles the
    first (pilot.press waits for the app to be idle after each key)."""
    for key in keys:
        event = Key(key, key if len(key) == 1 else ("\r" if key == "enter" else None))
        event.set_sender(app)
        app._driver.send_message(event)


async def test_a_name_typed_then_enter_and_more_keys_in_one_burst_is_taken_as_typed():
    # A paste, fast typing or a slow serial line: keys after Enter arrive before the app has
    # handled the Enter. What was in the field when Enter was pressed counts.
    core = stage_core()
    app = stage_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        burst(app, *"sda sdb", "enter", "x")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert core.apply_plan.calls == [(WEB01, {"/dev/sda": "/dev/sda", "/dev/sdb": "/dev/sdb"})]
        assert "That is not" not in shown(app)


async def test_escape_goes_back_without_writing():
    core = stage_core()
    app = stage_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, TargetsScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        assert core.apply_plan.calls == []


# ---- progress, cancel, errors ----

async def test_progress_shows_step_overall_current_file_and_log_tail():
    clock = Clock()
    restore = Scripted(clock, restore_events(), RESTORED, hold=True)
    app = stage_app(stage_core(clock, apply_plan=restore))
    async with app.run_test(size=(120, 40)) as pilot:
        await restore_held_running(pilot, restore)
        await pilot.pause()
        text = shown(app)
        assert "Restoring ext4 /" in text
        # 2.6 GiB in the 40 s since the step began: 66.6 MiB/s; 3.9 GiB left of the step.
        assert "2.6 GiB of 6.5 GiB, 73,012 of 182,345 entries, 66.6 MiB/s, about a minute left" \
            in text
        assert "Now: /usr/share/locale/de/LC_MESSAGES/coreutils.mo" in text
        # Overall: 1 MiB boot area + 6.5 + 3.3 + 43.5 GiB restore, 51.3 GiB to compare.
        assert "2.6 GiB of 104.6 GiB, 63.4 MiB/s, 42 seconds so far, about 27 minutes left" in text
        # The plan's step the applier is at, and the core's messages in the log tail.
        assert "Step 19 of 27: Restore filesystem 2 (ext4 /)" in text
        assert "Making ext4 on /dev/sda2" in text
        app.screen.cancel_requested.set()  # let the scripted restore end with the test


async def test_a_resumed_restore_says_so_while_running_and_when_done():
    clock = Clock()
    resuming = ("Resuming the restore started at 14:02: the partition tables and 2 of 3 "
                "filesystems (ext4 /, xfs /srv) are already restored; ext4 /home is restored "
                "again from the start.")
    events = [(1000.0, Message("Checking the archives (presence, size, BLAKE3)")),
              (1000.0, Message(resuming)),
              (1000.0, StepStarted(19, 27, "Restore filesystem 2 (ext4 /): 182,345 entries "
                                           "(already done: skipped)"))]
    restore = Scripted(clock, events, replace(RESTORED, resumed=["ext4 /", "xfs /srv"]),
                       hold=True)
    app = stage_app(stage_core(clock, apply_plan=restore))
    async with app.run_test(size=(120, 40)) as pilot:
        await restore_held_running(pilot, restore)
        await pilot.pause()
        log_tail = [line.text for line in app.screen.query_one("#log-tail", RichLog).lines]
        # The message wraps in the log tail: its words are all there, in order.
        assert " ".join(" ".join(log_tail).split()).count(resuming) == 1
        assert "already done: skipped" in shown(app)
        restore.hold = False
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert ("Resumed an interrupted restore: ext4 /, xfs /srv were already restored."
                in shown(app))


async def test_cancel_asks_first_then_stops_the_restore():
    clock = Clock()
    restore = Scripted(clock, restore_events(), RESTORED, hold=True)
    core = stage_core(clock, apply_plan=restore)
    app = stage_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await restore_held_running(pilot, restore)
        progress = app.screen
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, QuestionScreen)
        assert "left partly written" in shown(app)
        await pilot.press("n")  # no: the restore goes on
        await pilot.pause()
        assert app.screen is progress and progress.running
        assert not progress.cancel_requested.is_set()
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        text = shown(app)
        assert "The restore was cancelled" in text
        assert "ext4 / is partly restored" in text
        assert core.verify_targets.calls == []


async def test_quitting_during_a_restore_asks_and_cancels_first():
    clock = Clock()
    restore = Scripted(clock, restore_events(), RESTORED, hold=True)
    app = stage_app(stage_core(clock, apply_plan=restore))
    async with app.run_test(size=SIZE) as pilot:
        await restore_held_running(pilot, restore)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, QuestionScreen)
        assert "A restore is running. Quit anyway?" in shown(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, "the app to end")
    assert app.return_code == 1


async def test_a_signal_during_a_restore_closes_what_is_open_and_cancels_before_ending():
    clock = Clock()
    restore = Scripted(clock, restore_events(), RESTORED, hold=True)
    core = stage_core(clock, apply_plan=restore)
    app = stage_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await restore_held_running(pilot, restore)
        progress = app.screen
        await pilot.press("c")  # the cancel question is open when the signal comes
        await pilot.pause()
        assert isinstance(app.screen, QuestionScreen)
        app.end_by_signal(signal.SIGTERM)
        await pilot.pause()
        assert progress.cancel_requested.is_set() and app.screen is progress
        await wait_for(pilot, lambda: not app.is_running, "the app to end")
    assert app.ended_by_signal == signal.SIGTERM
    assert core.verify_targets.calls == []


async def test_a_signal_with_no_restore_running_ends_the_console_at_once():
    app = stage_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")  # whatever is open
        await pilot.pause()
        app.end_by_signal(signal.SIGHUP)
        await wait_for(pilot, lambda: not app.is_running, "the app to end")
    assert app.ended_by_signal == signal.SIGHUP


async def test_a_failed_restore_offers_retry_shell_abort_and_retry_works():
    clock = Clock()
    restore = Scripted(clock, restore_events(), RESTORED, errors=[error()])
    core = stage_core(clock, apply_plan=restore)
    app = stage_app(core)
    async with app.run_test(size=(120, 40)) as pilot:
        await to_review(pilot)
        await confirm(pilot, "sda sdb")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), "the error")
        text = shown(app)
        assert "The restore failed" in text
        assert "Could not mount /dev/sda2 (ext4): wrong fs type" in text
        assert "The log has the full output." in text
        assert offered_choices(app) == ["retry", "shell", "abort"]
        await pilot.press("s")  # the shell, then the same question again
        await pilot.pause()
        assert len(core.run_shell.calls) == 1
        assert isinstance(app.screen, ErrorScreen)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert len(restore.calls) == 2
        assert "The machine is restored" in shown(app)


async def test_abort_after_a_failure_goes_back_to_the_start():
    clock = Clock()
    restore = Scripted(clock, restore_events(), RESTORED, errors=[error()])
    app = stage_app(stage_core(clock, apply_plan=restore))
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        await confirm(pilot, "sda sdb")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), "the error")
        await pilot.press("a")
        await pilot.pause()
        assert [type(s) for s in app.screen_stack[1:]] == [StartScreen]


async def test_a_failed_comparison_can_be_skipped():
    clock = Clock()
    verify = Scripted(clock, [], None, errors=[error("The restored root has no /home.",
                                                     "Look at it from the shell.")])
    app = stage_app(stage_core(clock, verify_targets=verify))
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        await confirm(pilot, "sda sdb")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), "the error")
        assert "The comparison with the set failed" in shown(app)
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        text = shown(app)
        assert "Restored 318,679 entries" in text
        assert "Comparison with the set: skipped." in text
        assert len(app.core.apply_plan.calls) == 1  # skipping did not restore again


async def test_differences_found_are_listed_on_the_done_screen():
    clock = Clock()
    verify = Scripted(clock, [], VERIFIED_WITH_DIFFERENCES)
    app = stage_app(stage_core(clock, verify_targets=verify))
    async with app.run_test(size=(120, 40)) as pilot:
        await restore_to_done(pilot)
        text = shown(app)
        assert "318,677 of 318,679 entries checked, 2 differences (2 mount points not: " \
               "another filesystem is mounted over them):" in text
        assert "/etc/machine-id: content differs (BLAKE3)" in text


async def test_extras_are_counted_apart_and_listed_after_the_other_differences():
    clock = Clock()
    extras = [Difference(f"/srv/added-{i:02}", "extra: on disk, not in the set")
              for i in range(12)]
    found = VerifyResult(checked=318679, differences=[
        Difference("/etc/machine-id", "content differs (BLAKE3)"), *extras])
    app = stage_app(stage_core(clock, verify_targets=Scripted(clock, [], found)))
    async with app.run_test(size=(120, 40)) as pilot:
        await restore_to_done(pilot)
        text = shown(app)
        assert ("318,679 entries checked, 1 difference and 12 extra entries on disk, not in the "
                "set:") in text
        assert "/etc/machine-id: content differs (BLAKE3)" in text
        assert "/srv/added-06: extra: on disk, not in the set" in text
        assert "/srv/added-07" not in text  # eight lines in all
        assert "and 5 more (restore-console verify --json lists them all)." in text


async def test_compare_only_reads_and_says_so():
    core = stage_core()
    app = stage_app(core)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("v")
        await pilot.pause()
        screen = app.screen
        assert screen.chosen == {"/dev/sda": "/dev/sda", "/dev/sdb": "/dev/sdb"}  # suggested
        options = screen.query_one("#disk-0", OptionList)
        # Comparing does not write: the disk with the set on it is not refused for that.
        assert not options.get_option("/dev/sdc").disabled
        assert not options.get_option("/dev/sdd").disabled
        await pilot.press("n")
        await pilot.pause()
        assert "Nothing is written." in " ".join(str(app.screen.query_one("#review-text").render()).split())
        # Comparing writes nothing: Enter starts it, no name is typed.
        assert "Press Enter to compare" in shown(app) and "type the name" not in shown(app)
        assert not app.screen.query(Input)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert core.apply_plan.calls == []
        assert core.verify_targets.calls == [(WEB01, {"/dev/sda": "/dev/sda",
                                                      "/dev/sdb": "/dev/sdb"})]
        assert "The comparison is done" in shown(app)


async def test_enter_alone_does_not_start_a_restore():
    core = stage_core()
    app = stage_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        assert "That is not sda sdb. Nothing has been written" in shown(app)
        assert core.apply_plan.calls == []


# ---- done: reboot ----

async def test_reboot_asks_then_runs_the_reboot_command():
    core = stage_core()
    app = stage_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await restore_to_done(pilot)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, QuestionScreen)
        assert core.reboot.calls == []
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, "the app to end")
    assert core.reboot.calls == [()]


async def test_the_demo_never_reboots():
    core = stage_core()
    app = stage_app(core, demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await restore_to_done(pilot)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, DoneScreen)
        assert "The demo does not reboot this machine." in shown(app)
    assert core.reboot.calls == []


# ---- the expert shell ----

async def test_shell_from_any_screen_returns_to_the_same_screen_in_the_same_state(monkeypatch):
    events = []
    monkeypatch.setattr(HeadlessDriver, "can_suspend", property(lambda self: True))
    monkeypatch.setattr(HeadlessDriver, "suspend_application_mode",
                        lambda self: events.append("suspend"))
    monkeypatch.setattr(HeadlessDriver, "resume_application_mode",
                        lambda self: events.append("resume"))
    monkeypatch.setenv("SHELL", "/bin/bash")

    def shell(argv, cwd, env):
        events.append(("shell", argv, cwd, env["RESTORE_CONSOLE_SET"], env["PS1"]))
        return 0

    app = stage_app(stage_core(run_shell=shell))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")  # the disk-mapping editor
        await pilot.pause()
        screen = app.screen
        options = screen.query_one("#machine", OptionList)
        options.focus()
        options.highlighted = options.get_option_index("/dev/sde")
        await pilot.press("enter")
        await pilot.pause()
        stack = list(app.screen_stack)
        assert "F2 Shell" in shown(app)
        await pilot.press("f2")
        await pilot.pause()
        assert events == ["suspend", ("shell", ["/bin/bash"], os.getcwd(), WEB01,
                                      "restore-console shell \\w # "), "resume"]
        assert app.screen_stack == stack
        assert app.screen.chosen == {"/dev/sda": "/dev/sde", "/dev/sdb": "/dev/sdb"}
        assert app.focused is options and options.highlighted == \
            options.get_option_index("/dev/sde")


async def test_shell_while_typing_the_confirmation_keeps_what_was_typed():
    core = stage_core()
    app = stage_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        await pilot.press(*"sda s")
        await pilot.press("f2")
        await pilot.pause()
        assert len(core.run_shell.calls) == 1
        assert isinstance(app.screen, ReviewScreen)
        assert app.screen.query_one(Input).value == "sda s"


async def test_shell_on_the_done_screen_opens_in_the_restored_system(tmp_path):
    mount = FakeMount(str(tmp_path))
    core = stage_core(mounted_targets=mount)
    app = stage_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await restore_to_done(pilot)
        done = app.screen
        await pilot.press("s")
        await pilot.pause()
        (argv, cwd, env), = core.run_shell.calls
        assert cwd == str(tmp_path) and env["RESTORE_CONSOLE_TARGET"] == str(tmp_path)
        assert (mount.entered, mount.left) == (1, 1)  # unmounted when the shell ended
        assert app.screen is done


async def test_shell_when_the_restored_system_cannot_be_mounted():
    def cannot_mount(backup_set, mapping):
        raise error("Could not mount /dev/sda2 (ext4): bad superblock")

    core = stage_core(mounted_targets=cannot_mount)
    app = stage_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await restore_to_done(pilot)
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, ErrorScreen)
        assert "bad superblock" in shown(app)
        await pilot.press("s")
        await pilot.pause()
        (argv, cwd, env), = core.run_shell.calls
        assert cwd == os.getcwd() and "RESTORE_CONSOLE_TARGET" not in env
        assert isinstance(app.screen, DoneScreen)


# ---- help, palette, log ----

async def test_help_lists_the_keys_of_the_current_screen():
    app = stage_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        await pilot.pause()
        targets = app.screen
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = str(app.screen.query_one("#keys").render())
        for key, what in (("n", "Review"), ("esc", "Back"), ("F2", "Shell"), ("F3", "Log"),
                          ("F1", "Help")):
            assert any(line.split() [:1] == [key] and what in line for line in keys.splitlines()), \
                (key, what, keys)
        assert "Tab goes to the next original disk" in shown(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is targets
        # On the start screen, its own keys.
        await pilot.press("escape", "f1")
        await pilot.pause()
        keys = str(app.screen.query_one("#keys").render())
        assert "Whole machine" in keys and "Compare" in keys and "Review" not in keys


async def test_command_palette_offers_the_main_actions():
    app = stage_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"whole machine")
        await pilot.pause(0.3)
        assert "Restore the whole machine" in shown(app)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TargetsScreen)
        assert app.screen.kind == JobKind.RESTORE
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Restore the whole machine", "Clone onto other disks", "Restore selected files",
                "Compare the disks with the set", "Shell", "Log", "Help", "Quit"} <= titles


async def test_log_viewer_shows_the_tail_and_follows(tmp_path):
    log_file = tmp_path / "restore-console.log"
    log_file.write_text("".join(f"2026-03-14 02:31:{i:02d} INFO line {i}\n" for i in range(30)))
    app = stage_app(log_path=str(log_file))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LogScreen)
        log_widget = screen.query_one("#log")
        assert log_widget.lines[-1] == "2026-03-14 02:31:29 INFO line 29"
        assert len(log_widget.lines) == 30
        with open(log_file, "a") as f:
            f.write("2026-03-14 02:32:00 ERROR the new line\n")
        await wait_for(pilot, lambda: log_widget.lines[-1].endswith("the new line"),
                       "the new line to show", seconds=10)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)


async def test_log_viewer_without_a_log_says_so():
    app = stage_app(log_path="")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        assert "There is no log file" in shown(app)


# ---- failures that nobody expected ----

async def test_an_unexpected_failure_ends_in_words_and_the_traceback_goes_to_the_log(tmp_path):
    import logging

    log_file = tmp_path / "log"
    handler = logging.FileHandler(log_file)
    logger = logging.getLogger("restore_console")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    def broken(set_path, images):
        raise ZeroDivisionError("division by zero")

    app = stage_app(stage_core(discover_targets=broken), log_path=str(log_file))
    from rich.console import Console
    app.error_console = Console(record=True, width=100, file=open(os.devnull, "w"))
    try:
        with pytest.raises(ZeroDivisionError):
            async with app.run_test(size=SIZE) as pilot:
                await pilot.press("w")
                await pilot.pause()
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert app.return_code == 1
    shown = " ".join(app.error_console.export_text().split())  # what Textual prints at its end
    assert "restore-console stopped after an unexpected failure: division by zero" in shown
    assert f"The details are in the log: {log_file}" in shown
    assert "Traceback" not in shown and "NOTE" not in shown
    logged = log_file.read_text()
    assert "Traceback (most recent call last)" in logged and "in broken" in logged


async def test_a_message_from_the_core_is_logged(tmp_path, caplog):
    clock = Clock()
    restore = Scripted(clock, [(1000.0, Message("Writing the partition table"))], RESTORED)
    app = stage_app(stage_core(clock, apply_plan=restore))
    with caplog.at_level("INFO", logger="restore_console"):
        async with app.run_test(size=SIZE) as pilot:
            await restore_to_done(pilot)
    assert "Writing the partition table" in caplog.text


# ---- the core's questions while it runs ----

async def test_a_failed_step_asks_while_the_restore_waits_and_retry_runs_only_that_step():
    clock = Clock()
    restore = FailingStep(clock)
    core = stage_core(clock, apply_plan=restore)
    app = stage_app(core)
    async with app.run_test(size=(120, 40)) as pilot:
        await to_review(pilot)
        await confirm(pilot, "sda sdb")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), "the question")
        text = shown(app)
        assert "Step 8 of 27 failed" in text
        assert "Make ext4 on partition 2 (30.0 GiB): mkfs.ext4 failed on /dev/sda2" in text
        assert "it cannot be skipped" in text
        assert offered_choices(app) == ["retry", "shell", "abort"]
        await pilot.press("s")  # the shell, then the same question again
        await pilot.pause()
        assert len(core.run_shell.calls) == 1
        assert isinstance(app.screen, ErrorScreen) and "Step 8 of 27 failed" in shown(app)
        assert restore.answers == []  # the core still waits
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert restore.answers == ["retry"]
        assert restore.calls == 1  # the step again, not the whole run


async def test_abort_on_a_failed_step_goes_back_to_the_start_without_asking_again():
    clock = Clock()
    restore = FailingStep(clock)
    app = stage_app(stage_core(clock, apply_plan=restore))
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        await confirm(pilot, "sda sdb")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), "the question")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, StartScreen), "the start screen")
        assert restore.answers == ["abort"]
        assert [type(s) for s in app.screen_stack[1:]] == [StartScreen]


async def test_quitting_while_a_step_question_is_open_aborts_the_step_and_ends():
    clock = Clock()
    restore = FailingStep(clock)
    app = stage_app(stage_core(clock, apply_plan=restore))
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        await confirm(pilot, "sda sdb")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), "the question")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, QuestionScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, "the app to end")
    assert restore.answers == ["abort"]
    assert app.return_code == 1


async def test_a_passphrase_is_typed_unseen_and_given_to_the_waiting_core():
    clock = Clock()
    given = []

    def apply_plan(plan, listener, cancel):
        given.append(ask(listener, passphrase("/dev/sda3")))
        return RESTORED

    app = stage_app(stage_core(clock, apply_plan=apply_plan))
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        await confirm(pilot, "sda sdb")
        await wait_for(pilot, lambda: isinstance(app.screen, PassphraseScreen), "the question")
        assert "Passphrase for the LUKS container /dev/sda3" in shown(app)
        await pilot.press(*"hunter2")
        assert "hunter2" not in shown(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
    assert given == ["hunter2"]


async def test_on_a_serial_terminal_question_mark_bang_and_l_stand_for_f1_f2_f3():
    """A serial line's terminal may have no F1-F3: ?, ! and L do the same, the footer shows
    them, and in a text field they are only text."""
    core = stage_core()
    app = stage_app(core, theme="vt220")
    async with app.run_test(size=SIZE) as pilot:
        footer = shown(app).splitlines()[-1]
        assert "? Help" in footer and "! Shell" in footer and "L Log" in footer
        assert "F1" not in footer
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = str(app.screen.query_one("#keys").render())
        assert "F1 or ?" in keys and "F2 or !" in keys and "F3 or L" in keys
        await pilot.press("escape", "L")
        await pilot.pause()
        assert isinstance(app.screen, LogScreen)
        await pilot.press("escape", "exclamation_mark")
        await pilot.pause()
        assert len(core.run_shell.calls) == 1
        await to_review(pilot)
        await pilot.press(*"sd?!L")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        assert app.screen.query_one(Input).value == "sd?!L"
        assert len(core.run_shell.calls) == 1


async def test_nothing_animates_and_a_focused_text_field_has_a_steady_cursor():
    """Each blink or animation frame is a redraw a 115200 serial line has to carry."""
    app = stage_app(theme="vt220")
    async with app.run_test(size=SIZE) as pilot:
        assert app.animation_level == "none"
        await to_review(pilot)
        field = app.screen.query_one(Input)
        assert app.focused is field and field.cursor_blink is False
