"""The dialog of the core's "insert volume N": the real ISO reader asks through the progress
screen while a restore waits; the volume is named by number and label, another set's volume
is refused in words and asked for again, retry reads the right one and the restore goes on."""

from __future__ import annotations

import shutil

import pytest

from console.core.media.isomedium import IsoMedium
from console.tui.screens.done import DoneScreen
from console.tui.screens.start import StartScreen
from console.tui.screens.volume import VolumeScreen
from tests.functional.screentext import shown
from tests.functional.stage import (
    RESTORED,
    Clock,
    confirm,
    offered_choices,
    stage_app,
    stage_core,
    to_review,
    wait_for,
)
from tests.isovolumes import write_volumes

pytestmark = pytest.mark.skipif(shutil.which("xorriso") is None, reason="needs xorriso")

OURS = "4f1c2a3b-0000-4000-8000-000000000001"
THEIRS = "9d8e7f60-0000-4000-8000-000000000002"


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory):
    ours, data = write_volumes(tmp_path_factory.mktemp("ours"), OURS)
    theirs, _ = write_volumes(tmp_path_factory.mktemp("theirs"), THEIRS, seed=5)
    assert len(ours) >= 2 and len(theirs) >= 2
    return ours, theirs, data


def said(app) -> str:
    """The dialog's message whole (a long path wraps on the screen)."""
    return str(app.screen.query_one(".message").content)


def reading_the_set(drive, data, read):
    """apply_plan that reads every piece front to back from the volumes in `drive`, through
    the listener the console gives it, as a restore from ISO volumes does."""

    def apply_plan(plan, listener, cancel):
        medium = IsoMedium(str(drive / "web1-4f1c2a3b-1.iso"))
        try:
            for name in data:
                with medium.open_piece(name, listener) as stream:
                    read[name] = stream.read()
        finally:
            medium.close()
        return RESTORED

    return apply_plan


async def test_a_wrong_volume_is_refused_in_the_dialog_and_retry_reads_the_right_one(two_sets,
                                                                                      tmp_path):
    ours, theirs, data = two_sets
    drive = tmp_path / "drive"
    drive.mkdir()
    shutil.copy(ours[0], drive / ours[0].name)  # volume 1 alone: volume 2 is asked for
    read = {}
    app = stage_app(stage_core(Clock(), apply_plan=reading_the_set(drive, data, read)))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_review(pilot)
        await confirm(pilot, "sda sdb")
        await wait_for(pilot, lambda: isinstance(app.screen, VolumeScreen), "the question")
        text = shown(app)
        assert f"Insert volume 2 of {len(ours)}" in text
        assert "Label: web1-4f1c2a3b-2, volume id RC_4F1C2A3B_2" in text
        assert said(app).startswith(f"There is no {drive}/web1-4f1c2a3b-2.iso. Insert volume 2 "
                                    f"of the set {OURS} (labelled web1-4f1c2a3b-2")
        assert offered_choices(app) == ["retry", "abort"]
        assert "[r] Retry: the volume is in" in text and "[a] Abort the restore" in text
        first = app.screen

        # another set's volume 2 where volume 2 of this set is looked for
        shutil.copy(theirs[1], drive / "web1-4f1c2a3b-2.iso")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, VolumeScreen)
                       and app.screen is not first, "the question asked again")
        assert said(app).startswith(f"{drive}/web1-4f1c2a3b-2.iso holds volume 2 of "
                                    f"{len(theirs)} of set {THEIRS} (host web1, made "
                                    "2026-01-02T03:04:05+00:00): another set. Insert volume 2 ")
        assert f"Insert volume 2 of {len(ours)}" in shown(app)

        for path in ours[1:]:
            shutil.copy(path, drive / path.name)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
    assert read == data  # every byte read, each piece's BLAKE3 checked by the reader


async def test_abort_in_the_volume_dialog_stops_the_restore_in_words(two_sets, tmp_path):
    ours, _, data = two_sets
    drive = tmp_path / "drive"
    drive.mkdir()
    shutil.copy(ours[0], drive / ours[0].name)
    read = {}
    app = stage_app(stage_core(Clock(), apply_plan=reading_the_set(drive, data, read)))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_review(pilot)
        await confirm(pilot, "sda sdb")
        await wait_for(pilot, lambda: isinstance(app.screen, VolumeScreen), "the question")
        await pilot.press("escape")  # no stray key gives up a restore
        await pilot.pause()
        assert isinstance(app.screen, VolumeScreen)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, StartScreen), "the start screen")
    assert "fs-2.tar.zst" not in read
