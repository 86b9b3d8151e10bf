"""'Restore selected files' from the start screen: the picker over the set's catalog, then the
restore of the selection on the progress screen, and what it did on the done screen."""

from __future__ import annotations

import sqlite3

import pytest
from textual.widgets import Input, Select

from console.core.applying.existing import Existing
from console.core.applying.inplace import Place
from console.core.applying.partial import SelectionResult
from console.core.backupset.catalog import Catalog
from console.core.backupset.settree import SetTrees
from console.core.errors import RestoreError
from console.tui.screens.done import DoneScreen
from console.tui.screens.error import ErrorScreen
from console.tui.screens.existing_files import ExistingFilesScreen
from console.tui.screens.file_picker import FilePickerScreen
from console.tui.screens.start import StartScreen
from tests.functional.picker_fixture import RESTORED_PLACE, make_set
from tests.functional.screentext import shown
from tests.functional.stage import (
    picker_after_the_restore,
    restore_to_done,
    stage_app,
    stage_core,
    wait_for,
)


class FakeRestore:
    """restore_selection or restore_in_place: records the selections, where they go (the
    directory, or the mapping of disks) and the policy; reports a fixed result or error."""

    def __init__(self, result=None, error: RestoreError | None = None):
        self.calls = []
        self.result = result
        self.error = error

    def __call__(self, backup_set, selections, where, existing, listener, cancel):
        self.calls.append(([(s.fs, s.rules) for s in selections],
                           dict(where) if isinstance(where, dict) else where, existing))
        if self.error is not None:
            raise self.error
        return self.result


def picker_core(tmp_path, restore, **overrides):
    backup_set, catalog_path = make_set(tmp_path)
    opened = []

    def open_trees(_set):
        trees = SetTrees(backup_set, Catalog(catalog_path))
        opened.append(trees)
        return trees

    return stage_core(open_trees=open_trees, restore_selection=restore, **overrides), opened


async def test_selected_files_are_restored_into_the_chosen_directory(tmp_path):
    restore = FakeRestore(SelectionResult(entries=2, bytes=4460, seconds=0.2,
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
        assert "Restored 2 entries (4.4 KiB of file data) into /tmp/restored in under a " \
               "second." in text
        assert "Left as they were (already there): 1 entry." in text
        assert "Reboot" not in text
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
    # The catalog the picker read was closed once the choice was made.
    with pytest.raises(sqlite3.ProgrammingError):
        opened[0].catalog._db.execute("select 1")


async def test_cancelling_the_picker_restores_nothing(tmp_path):
    restore = FakeRestore()
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
    restore = FakeRestore(error=RestoreError("/tmp/restored is on a read-only "
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


IN_PLACE_RESULT = SelectionResult(entries=2, bytes=4460, seconds=0.2,
                                  destinations=["ext4 / on /dev/sdb, partition 2"])


async def test_selected_files_go_back_to_their_original_place(tmp_path):
    in_place = FakeRestore(IN_PLACE_RESULT)
    searched = []

    def find_places(backup_set, images):
        searched.append((backup_set.host, images))
        return [RESTORED_PLACE]

    core, _ = picker_core(tmp_path, FakeRestore(), find_places=find_places,
                          restore_in_place=in_place)
    app = stage_app(core)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, FilePickerScreen)
        assert searched == [("web-01", [])]
        assert "Original place: sdb (as /dev/sda)" in shown(app)
        await pilot.press("down", "enter", "down", "down", "space")  # /etc/passwd
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert in_place.calls == [([(2, [(b"/etc/passwd", True)])], {"/dev/sda": "/dev/sdb"},
                                   "overwrite")]
        assert core.restore_selection.calls == []
        text = shown(app)
        assert "Restored 2 entries (4.4 KiB of file data) into the original place on sdb " \
               "(as /dev/sda) in under a second." in text
        assert "into ext4 / on /dev/sdb, partition 2" in text


async def test_the_disks_just_restored_are_offered_first(tmp_path):
    restored_too = Place({"/dev/sda": "/dev/sda", "/dev/sdb": "/dev/sdb"},
                         "sda (as /dev/sda), sdb (as /dev/sdb)")
    other = Place({"/dev/sda": "/dev/sdc", "/dev/sdb": "/dev/sde"},
                  "sdc (as /dev/sda), sde (as /dev/sdb)")
    in_place = FakeRestore(IN_PLACE_RESULT)
    core, _ = picker_core(tmp_path, FakeRestore(),
                          find_places=lambda backup_set, images: [other, restored_too],
                          restore_in_place=in_place)
    app = stage_app(core)
    async with app.run_test(size=(120, 40)) as pilot:
        await restore_to_done(pilot)
        picker = await picker_after_the_restore(pilot)
        assert [(p.title, p.note) for p in picker.places] == [
            ("sda (as /dev/sda), sdb (as /dev/sdb)", "just restored"),
            ("sdc (as /dev/sda), sde (as /dev/sdb)", "")]  # the same mapping found again: once
        where = picker.query_one("#picker-place", Select)
        assert where.is_blank()  # two places: the operator chooses
        await pilot.press("down", "space")  # /etc
        where.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "Original place: sda (as /dev/sda), sdb (as /dev/sdb), just restored" \
            in shown(app)
        await pilot.press("down", "enter", "ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert in_place.calls[0][1] == {"/dev/sda": "/dev/sda", "/dev/sdb": "/dev/sdb"}


async def test_a_refused_restore_in_place_is_said_in_words(tmp_path):
    refusal = RestoreError("Partition 2 of /dev/sdb holds ext4, UUID 1111, not fs-2 (ext4 /, "
                           "UUID 2222) of the set. Nothing was written.",
                           "Device names can change between boots: choose the disk that holds "
                           "this filesystem, or restore into a directory instead.")
    core, _ = picker_core(tmp_path, FakeRestore(),
                          find_places=lambda backup_set, images: [RESTORED_PLACE],
                          restore_in_place=FakeRestore(error=refusal))
    app = stage_app(core)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        await pilot.press("down", "space", "ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), "the error")
        text = shown(app)  # the dialog's lines are wrapped between its borders
        assert "Partition 2 of /dev/sdb holds ext4, UUID 1111, not fs-2 (ext4 /," in text
        assert "UUID 2222) of the set. Nothing was written." in text
        assert "Device names can change between boots" in text


async def test_when_the_disks_cannot_be_searched_a_directory_is_still_offered(tmp_path):
    def broken(backup_set, images):
        raise RestoreError("Could not read the partition table of /dev/sda: I/O error.")

    restore = FakeRestore(SelectionResult(entries=1, destinations=["/tmp/restored"]))
    core, _ = picker_core(tmp_path, restore, find_places=broken)
    app = stage_app(core)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, FilePickerScreen)
        await pilot.pause()
        text = shown(app)  # a notice, its lines wrapped inside its border
        assert "The disks could not be searched" in text and "I/O error" in text
        assert "restored into a directory." in text
        picker = app.screen
        assert picker.places == []
        assert picker.query_one("#picker-destination", Input).display
        await pilot.press("down", "space")
        picker.query_one("#picker-destination", Input).value = "/tmp/restored"
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert restore.calls[0][1] == "/tmp/restored"


THREE_THERE = Existing(entries=3, bytes=4456, newer=1, newer_bytes=12,
                       paths=["/tmp/restored/etc/hostname", "/tmp/restored/etc/passwd",
                              "/tmp/restored/etc/ssh/sshd_config"])


class FakeExisting:
    """existing_into or existing_in_place: records where it looked, answers `found`."""

    def __init__(self, found: Existing):
        self.found = found
        self.calls = []

    def __call__(self, backup_set, selections, where):
        self.calls.append(([(s.fs, s.rules) for s in selections], where))
        return self.found


async def test_files_already_there_are_shown_and_nothing_is_written_until_a_policy_is_chosen(
        tmp_path):
    restore = FakeRestore(SelectionResult(entries=3, bytes=4456, destinations=["/tmp/restored"]))
    existing = FakeExisting(THREE_THERE)
    core, _ = picker_core(tmp_path, restore, existing_into=existing)
    app = stage_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        await pilot.press("down", "space")  # /etc
        app.screen.query_one("#picker-destination", Input).value = "/tmp/restored"
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, ExistingFilesScreen), "the question")
        assert existing.calls == [([(2, [(b"/etc", True)])], "/tmp/restored")]
        text = shown(app)
        assert "Replace files that are already there?" in text
        assert "3 files (4.4 KiB) are already where the selection goes, in" in text
        assert "/tmp/restored/etc/hostname" in text and "/tmp/restored/etc/ssh/sshd_config" in text
        assert "1 of them is newer than the set's copy." in text
        assert "[o] Overwrite: replace 3 files with the set's copy" in text
        assert "[s] Skip: leave every existing file as it is" in text
        assert "[k] Keep newer: replace 2 files older than the set's copy" in text
        # Declining goes back to the picker, selection kept, and nothing is restored.
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, FilePickerScreen) and restore.calls == []
        # Asked again, skip is chosen: the restore runs with it.
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, ExistingFilesScreen), "the question")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert restore.calls == [([(2, [(b"/etc", True)])], "/tmp/restored", "skip")]


async def test_overwriting_files_already_there_in_place_is_a_choice_made_in_the_question(
        tmp_path):
    in_place = FakeRestore(IN_PLACE_RESULT)
    existing = FakeExisting(Existing(entries=1, bytes=12, paths=["/etc/hostname"]))
    core, _ = picker_core(tmp_path, FakeRestore(), find_places=lambda s, i: [RESTORED_PLACE],
                          restore_in_place=in_place, existing_in_place=existing)
    app = stage_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        await pilot.press("down", "enter", "down", "space", "ctrl+r")  # /etc/hostname
        await wait_for(pilot, lambda: isinstance(app.screen, ExistingFilesScreen), "the question")
        assert existing.calls == [([(2, [(b"/etc/hostname", True)])], {"/dev/sda": "/dev/sdb"})]
        text = shown(app)
        assert "1 file (12 Bytes) is already where the selection goes, in the" in text
        assert "original place on sdb (as /dev/sda):" in text
        assert "/etc/hostname" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FilePickerScreen) and in_place.calls == []
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, ExistingFilesScreen), "the question")
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert in_place.calls == [([(2, [(b"/etc/hostname", True)])], {"/dev/sda": "/dev/sdb"},
                                   "overwrite")]


async def test_with_nothing_there_to_replace_the_restore_starts_without_a_question(tmp_path):
    restore = FakeRestore(SelectionResult(entries=1, destinations=["/tmp/restored"]))
    existing = FakeExisting(Existing(entries=1, bytes=12, newer=1, newer_bytes=12,
                                     paths=["/tmp/restored/etc/hostname"]))
    core, _ = picker_core(tmp_path, restore, existing_into=existing)
    app = stage_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        await pilot.press("down", "space")
        app.screen.query_one("#picker-destination", Input).value = "/tmp/restored"
        app.screen.query_one("#picker-existing", Select).value = "newer"  # the one there is newer
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert len(existing.calls) == 1 and restore.calls[0][2] == "newer"


async def test_the_question_names_the_immutable_files_it_would_replace(tmp_path):
    in_place = FakeRestore(IN_PLACE_RESULT)
    existing = FakeExisting(Existing(entries=1, bytes=12, paths=["/etc/hostname"], locked=1,
                                     locked_paths=["/etc/hostname"]))
    core, _ = picker_core(tmp_path, FakeRestore(), find_places=lambda s, i: [RESTORED_PLACE],
                          restore_in_place=in_place, existing_in_place=existing)
    app = stage_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        await pilot.press("down", "enter", "down", "space", "ctrl+r")  # /etc/hostname
        await wait_for(pilot, lambda: isinstance(app.screen, ExistingFilesScreen), "the question")
        text = shown(app)  # the dialog's lines sit between the picker's borders
        assert "1 entry immutable or append-only (/etc/hostname): the restore takes" in text
        assert "the flag off, replaces it and sets the set's flags." in text
        await pilot.press("escape")
        await pilot.pause()
        assert in_place.calls == []
