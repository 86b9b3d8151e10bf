"""'Restore selected files' from the start screen: the picker over the set's catalog, then the
restore of the selection on the progress screen, and what it did on the done screen."""

from __future__ import annotations

import sqlite3

import pytest
from textual.widgets import Input

from console.core.catalog import Catalog
from console.core.errors import RestoreError
from console.core.filetree import SetTrees
from console.core.partial import SelectionResult
from console.screens.done import DoneScreen
from console.screens.error import ErrorScreen
from console.screens.file_picker import FilePickerScreen
from console.screens.start import StartScreen
from tests.functional.screentext import shown
from tests.functional.stage import stage_app, stage_core, wait_for
from tests.picker_fixture import make_set


class FakeSelectionRestore:
    """restore_selection: records what it was asked, reports, returns a fixed result."""

    def __init__(self, result=None, error: RestoreError | None = None):
        self.calls = []
        self.result = result
        self.error = error

    def __call__(self, backup_set, selections, into, existing, listener):
        self.calls.append(([(s.fs, s.rules) for s in selections], into, existing))
        if self.error is not None:
            raise self.error
        return self.result


def picker_core(tmp_path, restore):
    backup_set, catalog_path = make_set(tmp_path)
    opened = []

    def open_trees(_set):
        trees = SetTrees(backup_set, Catalog(catalog_path))
        opened.append(trees)
        return trees

    return stage_core(open_trees=open_trees, restore_selection=restore), opened


async def test_selected_files_are_restored_into_the_chosen_directory(tmp_path):
    restore = FakeSelectionRestore(SelectionResult(entries=2, bytes=4460, seconds=0.2,
                                                   skipped=[b"/etc/hostname"],
                                                   destinations=["/tmp/restored"]))
    core, opened = picker_core(tmp_path, restore)
    app = stage_app(core)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, FilePickerScreen)
        await pilot.press("down", "enter", "down", "down", "space")  # /etc/passwd
        await pilot.press("down", "space")  # /etc/ssh
        app.screen.query_one("#picker-destination", Input).value = "/tmp/restored"
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert restore.calls == [([(2, [(b"/etc/passwd", True), (b"/etc/ssh", True)])], "/tmp/restored",
                                  "overwrite")]
        text = shown(app)
        assert "The files are restored" in text
        assert "Restored 2 entries (4.4 KiB) into /tmp/restored in under a second." in text
        assert "Left as they were (already there): 1 entries." in text
        assert "Reboot" not in text
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
    # The catalog the picker read was closed once the choice was made.
    with pytest.raises(sqlite3.ProgrammingError):
        opened[0].catalog._db.execute("select 1")


async def test_cancelling_the_picker_restores_nothing(tmp_path):
    restore = FakeSelectionRestore()
    core, _ = picker_core(tmp_path, restore)
    app = stage_app(core)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        assert restore.calls == []


async def test_a_failed_file_restore_is_said_in_words(tmp_path):
    restore = FakeSelectionRestore(error=RestoreError("/tmp/restored is on a read-only "
                                                      "filesystem.", "Choose another directory."))
    core, _ = picker_core(tmp_path, restore)
    app = stage_app(core)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        await pilot.press("down", "space")
        app.screen.query_one("#picker-destination", Input).value = "/tmp/restored"
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), "the error")
        assert "/tmp/restored is on a read-only filesystem." in shown(app)
        assert "Choose another directory." in shown(app)


async def test_a_set_without_its_catalog_says_so():
    app = stage_app()  # the stage's set is a manifest alone: the real catalog call finds none
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        assert "The set's file list cannot be read: The catalog /media/backup/web-01/" \
               "catalog.sqlite is missing." in shown(app)
