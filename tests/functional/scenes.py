"""Every screen of the console, reached by key presses on the fixed stage: for the snapshots and
for the check that the Linux-console theme draws only glyphs the VGA font has."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Awaitable, Callable

from console.core.questions import passphrase
from console.tui.screens.done import DoneScreen
from console.tui.screens.error import ErrorScreen
from console.tui.screens.progress import ProgressScreen
from console.tui.screens.question import QuestionScreen
from tests.functional.stage import (
    RESTORED,
    Asking,
    Clock,
    FailingStep,
    Scripted,
    confirm,
    error,
    restore_events,
    stage_app,
    stage_core,
    to_review,
    wait_for,
)

# The log shown by the log viewer: a fixed file at a fixed path, so its title is the same.
LOG_SOURCE = Path(__file__).parent / "data" / "restore-console.log"
LOG_SHOWN = "/tmp/restore-console-snapshot.log"


async def _confirm(pilot, typed: str = "sda sdb") -> None:
    await to_review(pilot)
    await confirm(pilot, typed)


async def start(pilot) -> None:
    await pilot.pause()


async def targets(pilot) -> None:
    await pilot.press("w")


async def settled(pilot) -> None:
    """The editor scrolls to the focused list with an animation: the picture is taken after."""
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def clone(pilot) -> None:
    await pilot.press("c")
    await settled(pilot)


async def clone_edited(pilot) -> None:
    """sda onto the 200 GiB disk, root taking the rest."""
    await pilot.press("c")
    await pilot.pause()
    await pilot.press("enter", "down", "enter", "tab", "down", "r")
    await settled(pilot)


async def clone_refused(pilot) -> None:
    """Root of the 40 GiB disk set to 39 GiB: the layout does not fit."""
    await pilot.press("c")
    await pilot.pause()
    await pilot.press("tab", "tab", "down", "s", *"39G", "enter")
    await settled(pilot)


async def clone_typing_a_size(pilot) -> None:
    await pilot.press("c")
    await pilot.pause()
    await pilot.press("tab", "tab", "down", "s", *"20")
    await settled(pilot)


async def clone_help(pilot) -> None:
    await pilot.press("c")
    await pilot.pause()
    await pilot.press("f1")


async def picker(pilot) -> None:
    """Restore selected files: /etc opened, a file selected, the place list open."""
    await pilot.press("f")
    await pilot.pause()
    await pilot.press("down", "enter", "down", "down", "space", "tab", "enter")
    await settled(pilot)


async def files_done(pilot) -> None:
    from textual.widgets import Input
    await pilot.press("f")
    await pilot.pause()
    await pilot.press("down", "enter", "down", "down", "space")
    pilot.app.screen.query_one("#picker-destination", Input).value = "/tmp/restored"
    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DoneScreen), "the done screen")


async def files_existing(pilot) -> None:
    """The question before files already there are replaced."""
    from textual.widgets import Input

    from console.tui.screens.existing_files import ExistingFilesScreen
    await pilot.press("f")
    await pilot.pause()
    await pilot.press("down", "space")  # /etc
    pilot.app.screen.query_one("#picker-destination", Input).value = "/tmp/restored"
    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ExistingFilesScreen),
                   "the question")


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


async def step_failed_question(pilot) -> None:
    """A step failed while the restore runs: the core waits for retry, shell or abort."""
    await _confirm(pilot)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ErrorScreen), "the question")


async def passphrase_question(pilot) -> None:
    """The core asks for a LUKS passphrase; some of it typed (never shown)."""
    from console.tui.screens.passphrase import PassphraseScreen
    await _confirm(pilot)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, PassphraseScreen), "the question")
    await pilot.press(*"secret")


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
    """The palette searching "restore": the picture waits for its two matches, not a time."""
    from textual.command import CommandList
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*"restore")
    await wait_for(pilot, lambda: pilot.app.screen.query_one(CommandList).option_count == 2,
                   "the palette's matches")
    await settled(pilot)


async def no_set(pilot) -> None:
    await pilot.pause()


def _app(theme: str, *, hold: bool = False, fail: bool = False, **kwargs):
    clock = Clock()
    restore = Scripted(clock, restore_events(), RESTORED, hold=hold,
                       errors=[error()] if fail else None)
    core_overrides = kwargs.pop("core", {})
    return stage_app(stage_core(clock, apply_plan=restore, **core_overrides), theme=theme, **kwargs)


def _asking_app(theme: str, make_restore):
    """The stage whose restore asks a question and waits (stage.FailingStep, stage.Asking)."""
    clock = Clock()
    return stage_app(stage_core(clock, apply_plan=make_restore(clock)), theme=theme)


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
    "clone-edited": (_app, clone_edited),
    "clone-refused": (_app, clone_refused),
    "clone-typing-a-size": (_app, clone_typing_a_size),
    "clone-help": (_app, clone_help),
    "picker": (lambda theme: _files_app(theme, places=True), picker),
    "files-done": (lambda theme: _files_app(theme), files_done),
    "files-existing": (lambda theme: _files_app(theme, existing=True), files_existing),
    "review": (_app, review),
    "progress": (lambda theme: _app(theme, hold=True), progress),
    "cancel-question": (lambda theme: _app(theme, hold=True), cancel_question),
    "error": (lambda theme: _app(theme, fail=True), failed),
    "step-failed": (lambda theme: _asking_app(theme, FailingStep), step_failed_question),
    "passphrase": (lambda theme: _asking_app(theme, lambda clock: Asking(
        clock, lambda: passphrase("/dev/sda3"))), passphrase_question),
    "done": (_app, done),
    "cancelled": (lambda theme: _app(theme, hold=True), cancelled),
    "help": (_app, help_screen),
    "log": (_log_app, log_view),
    "palette": (_app, palette),
}


def _files_app(theme: str, places: bool = False, existing: bool = False):
    """The stage with a catalog to pick from (tests/picker_fixture.py) and a file restore that
    reports a fixed result; with `places`, two disks that hold the set's filesystems; with
    `existing`, three of its files already where /etc goes, one of them newer than the set's."""
    import tempfile

    from console.core.applying.existing import Existing
    from console.core.applying.partial import SelectionResult
    from console.core.backupset.catalog import Catalog
    from console.core.backupset.settree import SetTrees
    from tests.functional.picker_fixture import ORIGINAL_PLACE, RESTORED_PLACE, make_set
    backup_set, catalog_path = make_set(Path(tempfile.mkdtemp(prefix="restore-console-scene-")))
    result = SelectionResult(entries=1, bytes=1234, seconds=0.2, destinations=["/tmp/restored"])
    found = [RESTORED_PLACE, ORIGINAL_PLACE] if places else []
    there = Existing(entries=3, bytes=1234 + 12 + 3210, newer=1, newer_bytes=12, paths=[
        f"/tmp/restored/etc/{name}" for name in ("hostname", "passwd", "ssh/sshd_config")]) if existing else Existing()
    return _app(theme, core={
        "open_trees": lambda _set: SetTrees(backup_set, Catalog(catalog_path)),
        "find_places": lambda _set, _images: found,
        "existing_into": lambda _set, _selections, _into: there,
        "restore_selection": lambda *args: result})


def _missing(path: str):
    from console.core.errors import RestoreError
    raise RestoreError(f"{path} holds no backup set: manifest.json is missing.",
                       "Give the directory that holds manifest.json.")
