"""The same selection counted the same way by the picker, the done screen and the command line,
on a real set: entries, and file data as the regular files' sizes (never the archive's)."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select, Static

from console.tui.app import RestoreApp
from console.tui.facade import Core
from console.tui.screens.done import DoneScreen
from console.tui.screens.file_picker import INTO_DIRECTORY, FilePickerScreen
from tests.functional.screentext import shown
from tests.functional.stage import wait_for
from tests.system.clitool import cli, small_ext4_set

pytestmark = pytest.mark.system

# dir-0 holds file-0 .. file-3 of 0, 100, 200 and 300 bytes: 5 entries, 600 bytes of file data.
DIR_0 = "5 entries (600 Bytes of file data)"


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    base = tmp_path_factory.mktemp("counts")
    return small_ext4_set(base, 64, dirs=2, files=4, grain=100)[1]


def test_the_command_line_counts_entries_and_file_data(small_set, tmp_path):
    whole = cli("restore", str(small_set), "--only", "/dir-0", "--into", str(tmp_path / "a"))
    assert whole.returncode == 0, whole.stderr
    assert f"Restored {DIR_0} into {tmp_path}/a in " in whole.stdout
    one = cli("restore", str(small_set), "--only", "/dir-0/file-1", "--into", str(tmp_path / "b"))
    assert one.returncode == 0, one.stderr
    assert f"Restored 1 entry (100 Bytes of file data) into {tmp_path}/b in " in one.stdout


async def test_the_picker_and_the_done_screen_say_what_the_command_line_says(small_set,
                                                                             tmp_path):
    no_disk = tmp_path / "no-disk.img"  # the only disk offered: it holds nothing of the set
    no_disk.write_bytes(bytes(1024 * 1024))
    app = RestoreApp(str(small_set), theme="textual-dark", core=Core(),
                     log_path=str(tmp_path / "log"), target_images=[str(no_disk)])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FilePickerScreen), "the picker")
        await pilot.press("down", "space")  # /dir-0
        await pilot.pause()
        summary = str(app.screen.query_one("#picker-summary", Static).render())
        assert summary == "To restore: 5 entries, 600 Bytes"
        # The set's own disk image is offered as the original place: a directory is chosen.
        app.screen.query_one("#picker-place", Select).value = INTO_DIRECTORY
        app.screen.query_one("#picker-destination", Input).value = str(tmp_path / "out")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen",
                       seconds=120)
        assert f"Restored {DIR_0} into {tmp_path}/out in " in shown(app)
