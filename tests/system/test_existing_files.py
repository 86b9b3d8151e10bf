"""Files already where a selection goes are replaced only after the operator says so: on a real
backup set of a real ext4 image, by the command line (into a directory) and by the console
over the real core (in place, on the image itself), an edited file stays when the operator
declines or chooses skip, and is replaced only after overwrite is confirmed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from console.tui.app import RestoreApp
from console.tui.facade import Core
from console.tui.screens.done import DoneScreen
from console.tui.screens.existing_files import ExistingFilesScreen
from console.tui.screens.file_picker import FilePickerScreen
from tests.functional.screentext import shown
from tests.functional.stage import wait_for
from tests.system.clitool import cli, small_ext4_set
from tests.system.images import attached, mounted

pytestmark = pytest.mark.system

EDITED = b"edited by the operator after the backup\n"


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    base = tmp_path_factory.mktemp("existing-files")
    source, set_dir, name = small_ext4_set(base, 64, dirs=2, files=4, grain=100)
    return source, set_dir, name


def test_the_command_line_refuses_to_replace_without_yes_and_skip_leaves_the_file(
        small_set, tmp_path):
    _, set_dir, _ = small_set
    into = tmp_path / "into"
    (into / "dir-0").mkdir(parents=True)
    edited = into / "dir-0/file-2"
    edited.write_bytes(EDITED)
    os.utime(edited, (1_000_000_000, 1_000_000_000))  # older than the set's copy
    restore = ("restore", str(set_dir), "--only", "/dir-0", "--into", str(into))

    refused = cli(*restore)
    assert refused.returncode == 2, refused.stderr
    assert f"1 existing file ({len(EDITED)} Bytes) would be replaced: {edited}." \
        in refused.stderr
    assert "Nothing was written." in refused.stderr and "--yes" in refused.stderr
    assert edited.read_bytes() == EDITED and not (into / "dir-0/file-1").exists()

    newer = cli(*restore, "--existing", "newer")  # the file there is older: still replaced
    assert newer.returncode == 2 and "1 existing file" in newer.stderr
    assert edited.read_bytes() == EDITED

    skipped = cli(*restore, "--existing", "skip")
    assert skipped.returncode == 0, skipped.stderr
    assert edited.read_bytes() == EDITED
    assert (into / "dir-0/file-1").stat().st_size == 100  # the others are restored
    assert "Left as they were (skip): /dir-0/file-2" in skipped.stdout

    replaced = cli(*restore, "--yes")
    assert replaced.returncode == 0, replaced.stderr
    assert edited.stat().st_size == 200 and edited.read_bytes() != EDITED


def source_file(source: Path, inner: str) -> bytes:
    with attached(source, read_only=True) as disk, \
            mounted(disk.partition(1), "ext4", "ro,noload") as root:
        return (root / inner).read_bytes()


async def test_the_console_asks_before_replacing_a_file_in_place(small_set, tmp_path):
    source, set_dir, _ = small_set
    with attached(source) as disk, mounted(disk.partition(1), "ext4") as root:
        (root / "dir-0/file-3").write_bytes(EDITED)
    app = RestoreApp(str(set_dir), theme="textual-dark", core=Core(),
                     log_path=str(tmp_path / "log"), target_images=[str(source)])

    async def ask(pilot) -> None:
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FilePickerScreen), "the picker")
        assert app.screen.places  # the image holds the set's filesystem: its original place
        await pilot.press("down", "space", "ctrl+r")  # /dir-0
        await wait_for(pilot, lambda: isinstance(app.screen, ExistingFilesScreen),
                       "the question", seconds=60)

    async with app.run_test(size=(80, 24)) as pilot:
        await ask(pilot)
        text = shown(app)
        assert "4 files" in text and "are already where the selection goes" in text
        assert "fs-1:/dir-0/file-0" in text and "fs-1:/dir-0/file-3" in text
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, FilePickerScreen)
        assert source_file(source, "dir-0/file-3") == EDITED  # declined: nothing written

        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, ExistingFilesScreen),
                       "the question", seconds=60)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen",
                       seconds=120)
        assert "Left as they were (already there): 4 entries." in shown(app)
        assert source_file(source, "dir-0/file-3") == EDITED  # skipped

        await pilot.press("b")
        await pilot.pause()
        await ask(pilot)
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen",
                       seconds=120)
    assert len(source_file(source, "dir-0/file-3")) == 300  # replaced after overwrite
