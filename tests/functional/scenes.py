"""Every screen of the console, reached by key presses on the fixed stage: for the snapshots and
for the check that the Linux-console theme draws only glyphs the VGA font has."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Awaitable, Callable

from console.screens.done import DoneScreen
from console.screens.error import ErrorScreen
from console.screens.progress import ProgressScreen
from console.screens.question import QuestionScreen
from tests.functional.stage import (RESTORED, Clock, Scripted, error, restore_events, stage_app,
                                    stage_core, wait_for)

# The log shown by the log viewer: a fixed file at a fixed path, so its title is the same.
LOG_SOURCE = Path(__file__).parent / "data" / "restore-console.log"
LOG_SHOWN = "/tmp/restore-console-snapshot.log"


async def _confirm(pilot, typed: str = "sda sdb") -> None:
    await pilot.press("w")
    await pilot.pause()
    await pilot.press("n")
    await pilot.pause()
    await pilot.press(*typed, "enter")
    await pilot.pause()


async def start(pilot) -> None:
    await pilot.pause()


async def targets(pilot) -> None:
    await pilot.press("w")


async def clone(pilot) -> None:
    await pilot.press("c")


async def review(pilot) -> None:
    await pilot.press("w")
    await pilot.pause()
    await pilot.press("n")
    await pilot.pause()
    await pilot.press(*"sd")


async def progress(pilot) -> None:
    await _confirm(pilot)
    await wait_for(pilot, pilot.app.core.apply_plan.reached.is_set, "the scripted events")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgressScreen) and
                   pilot.app.screen.tracker.step.bytes_done > 0, "the progress shown")


async def cancel_question(pilot) -> None:
    await progress(pilot)
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, QuestionScreen), "the question")


async def failed(pilot) -> None:
    await _confirm(pilot)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ErrorScreen), "the error")


async def done(pilot) -> None:
    await _confirm(pilot)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DoneScreen), "the done screen")


async def cancelled(pilot) -> None:
    await progress(pilot)
    await pilot.press("c")
    await pilot.pause()
    await pilot.press("y")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DoneScreen), "the done screen")


async def help_screen(pilot) -> None:
    await pilot.press("w")
    await pilot.pause()
    await pilot.press("f1")


async def log_view(pilot) -> None:
    await pilot.press("f3")
    await pilot.pause()


async def palette(pilot) -> None:
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*"restore")
    await pilot.pause(0.3)


async def no_set(pilot) -> None:
    await pilot.pause()


def _app(theme: str, *, hold: bool = False, fail: bool = False, **kwargs):
    clock = Clock()
    restore = Scripted(clock, restore_events(), RESTORED, hold=hold,
                       errors=[error()] if fail else None)
    core_overrides = kwargs.pop("core", {})
    return stage_app(stage_core(clock, apply_plan=restore, **core_overrides), theme=theme, **kwargs)


def _log_app(theme: str):
    shutil.copyfile(LOG_SOURCE, LOG_SHOWN)
    return _app(theme, log_path=LOG_SHOWN)


# name -> (make the app for a theme, the key presses that reach the screen)
SCENES: dict[str, tuple[Callable, Callable[..., Awaitable[None]]]] = {
    "start": (_app, start),
    "start-not-root": (lambda theme: _app(theme, core={"is_root": lambda: False}), start),
    "no-set": (lambda theme: _app(theme, set_path="/media/backup/none",
                                  core={"load_set": _missing}), no_set),
    "targets": (_app, targets),
    "clone": (_app, clone),
    "review": (_app, review),
    "progress": (lambda theme: _app(theme, hold=True), progress),
    "cancel-question": (lambda theme: _app(theme, hold=True), cancel_question),
    "error": (lambda theme: _app(theme, fail=True), failed),
    "done": (_app, done),
    "cancelled": (lambda theme: _app(theme, hold=True), cancelled),
    "help": (_app, help_screen),
    "log": (_log_app, log_view),
    "palette": (_app, palette),
}


def _missing(path: str):
    from console.core.errors import RestoreError
    raise RestoreError(f"{path} holds no backup set: manifest.json is missing.",
                       "Give the directory that holds manifest.json.")
