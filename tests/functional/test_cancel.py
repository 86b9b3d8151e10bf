"""Cancelling a running restore from the progress screen, on the fixed stage: the question is
asked while the restore goes on, a yes stops it through the core's cancel token and the done
screen says what state the target is in; a question made moot by the end of the restore is
withdrawn, saying so. Also what the progress screen shows as the steps go by."""

from __future__ import annotations

import threading

from textual.widgets import RichLog, Static

from console.core.errors import Cancelled
from console.core.events import Progress, StepStarted
from console.tui.screens.done import DoneScreen
from console.tui.screens.progress import ProgressScreen
from console.tui.screens.question import QuestionScreen
from tests.functional.screentext import shown
from tests.functional.stage import (
    CANCELLED,
    Clock,
    GiB,
    Scripted,
    confirm,
    restore_events,
    restore_held_running,
    stage_app,
    stage_core,
    to_review,
    wait_for,
)

SIZE = (80, 24)


def held_restore():
    clock = Clock()
    restore = Scripted(clock, restore_events(), None, hold=True)
    core = stage_core(clock, apply_plan=restore)
    return restore, core, stage_app(core)


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_yes_stops_the_restore_and_the_done_screen_says_what_state_the_target_is_in():
    restore, core, app = held_restore()
    async with app.run_test(size=SIZE) as pilot:
        await restore_held_running(pilot, restore)
        progress = app.screen
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert progress.cancel_requested.is_set()  # the core's token
        text = shown(app)
        assert "The restore was cancelled" in text and "The machine is restored" not in text
        assert " ".join(CANCELLED.message.split()) in " ".join(text.split())
        assert "Run the same restore again: it resumes after what is done." in text
        assert core.verify_targets.calls == []


async def test_the_restore_goes_on_showing_progress_while_the_cancel_question_is_open():
    restore, _, app = held_restore()
    async with app.run_test(size=SIZE) as pilot:
        await restore_held_running(pilot, restore)
        progress = app.screen
        await pilot.press("c")
        await pilot.pause()
        restore.more.put((1062.0, Progress("Restoring ext4 /", bytes_done=int(3.9 * GiB),
                                           bytes_total=int(6.5 * GiB), files_done=99000,
                                           files_total=182345, current="/usr/bin/tar")))
        await wait_for(pilot, lambda: "3.9 GiB of 6.5 GiB" in text_of(progress, "#step-figures"),
                       "the next progress shown")
        assert isinstance(app.screen, QuestionScreen)
        assert text_of(progress, "#current") == "Now: /usr/bin/tar"
        await pilot.press("n")
        await pilot.pause()
        assert progress.running and not progress.cancel_requested.is_set()
        restore.hold = False
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")


async def test_a_cancel_question_made_moot_by_the_end_of_the_restore_is_withdrawn():
    restore, core, app = held_restore()
    async with app.run_test(size=SIZE) as pilot:
        await restore_held_running(pilot, restore)
        progress = app.screen
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, QuestionScreen)
        restore.hold = False  # the restore finishes while the question is open
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert progress.outcome.cancelled_in is None
        text = shown(app)
        assert "The machine is restored" in text
        assert ("The restore had already finished when the cancel was asked: the question was "
                "withdrawn.") in " ".join(text.split())
        assert len(core.verify_targets.calls) == 1  # the comparison ran as usual


async def test_the_log_box_and_the_step_panel_follow_the_steps():
    restore, _, app = held_restore()
    async with app.run_test(size=SIZE) as pilot:
        await restore_held_running(pilot, restore)
        progress = app.screen
        assert isinstance(progress, ProgressScreen)
        restore.more.put((1050.0, StepStarted(20, 27, "Mount ext4 /home (partition 3)")))
        await wait_for(pilot, lambda: "Step 20" in text_of(progress, "#plan-step"), "step 20")
        log_tail = " ".join(line.text for line in progress.query_one("#log-tail", RichLog).lines)
        # Each step goes to the log box too, after the messages that came before it.
        assert "Step 19 of 27: Restore filesystem 2 (ext4 /)" in log_tail
        assert log_tail.index("Checking the archives") < log_tail.index("Step 20 of 27")
        # The last step's figures are gone: the panel shows the step that runs now.
        assert "Restoring ext4 /" not in text_of(progress, "#step-name")
        assert text_of(progress, "#current") == ""
        assert "73,012" not in text_of(progress, "#step-figures")
        restore.hold = False
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")


class SilentStep:
    """A restore whose step reports nothing for a long time (a mkfs of a large disk, one huge
    file): it waits inside the step until the test lets the step end, then stops at the safe
    point after it if the cancel token is set."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.may_end = threading.Event()
        self.ended = threading.Event()

    def __call__(self, plan, listener, cancel):
        listener(StepStarted(8, 27, "Make ext4 on partition 2 (30.0 GiB)"))
        self.inside.set()
        self.may_end.wait(30)
        self.ended.set()
        if cancel.is_set():
            raise Cancelled("The restore was cancelled after step 8 of 27.", "Run it again.")
        raise AssertionError("the test sets the cancel token before the step ends")


async def test_the_cancel_question_appears_at_once_while_a_silent_step_is_still_running():
    step = SilentStep()
    core = stage_core(Clock(), apply_plan=step)
    app = stage_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        await confirm(pilot, "sda sdb")
        await wait_for(pilot, step.inside.is_set, "the silent step")
        progress = app.screen
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, QuestionScreen), "the question")
        assert not step.ended.is_set()  # asked in the step, not after it
        await pilot.press("y")
        await pilot.pause()
        assert progress.cancel_requested.is_set()
        step.may_end.set()
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert "The restore was cancelled after step 8 of 27." in shown(app)
