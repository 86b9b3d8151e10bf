"""The file tree and the "Restore selected files" screen, driven with Pilot."""

import pytest
from textual.widgets import Input, Select

from console.core.backupset.entries import Totals
from console.tui.screens.file_picker import INTO_DIRECTORY
from tests.functional.picker_fixture import ORIGINAL_PLACE, RESTORED_PLACE, PickerApp
from widgets.file_tree import FileTree


def lines(tree: FileTree, count: int = 12) -> list[str]:
    return [tree.render_line(y).text.rstrip() for y in range(count)]


def name_of(line: str) -> str:
    """The name a row shows: after the mark, the indent and the arrow, before the details."""
    rest = line[4:].lstrip()
    if rest[:1] in ("▼", "►"):
        rest = rest[2:]
    return rest.split("  ")[0]


def names(tree: FileTree, count: int = 12) -> list[str]:
    return [name_of(line) for line in lines(tree, count) if line]


def row_text(tree: FileTree, y: int) -> str:
    return tree.render_line(y - tree.scroll_offset.y).text


async def test_keys_open_close_and_select(tmp_path):
    app = PickerApp(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        tree = app.screen.query_one(FileTree)
        assert tree.has_focus
        assert names(tree) == ["/", "etc/", "home/", "var/"]
        await pilot.press("down", "enter")  # open etc
        assert tree.model.is_open(b"/etc")
        assert names(tree) == ["/", "etc/", "hostname", "passwd", "ssh/", "home/", "var/"]
        await pilot.press("down", "down", "space")  # select /etc/passwd
        assert row_text(tree, 3).startswith("[x]") and "passwd" in row_text(tree, 3)
        assert row_text(tree, 1).startswith("[-]")  # etc: some
        assert row_text(tree, 0).startswith("[-]")
        await pilot.press("left")  # on a file: to its directory
        assert tree.cursor == 1
        await pilot.press("left")  # on an open directory: close it
        assert not tree.model.is_open(b"/etc")
        await pilot.press("right")
        assert tree.model.is_open(b"/etc")
        await pilot.press("right")  # already open: step inside
        assert tree.cursor == 2
        await pilot.press("up", "space")  # all of /etc
        assert row_text(tree, 1).startswith("[x]")
        status = str(app.screen.query_one("#file-tree-status").render())
        assert status.startswith("6 entries, 6.0 KiB selected of 1,017 (6.6 MiB)")
        assert tree.model.totals() == Totals(entries=6, files=4, bytes=1234 + 12 + 3210 + 1650)


async def test_restore_in_place_returns_the_choice(tmp_path):
    app = PickerApp(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        place = app.screen.query_one("#picker-place", Select)
        assert place.value == 0  # the one place there is, offered first
        assert not app.screen.query_one("#picker-destination", Input).display
        await pilot.press("down", "space")  # /etc
        app.screen.query_one("#picker-existing", Select).value = "newer"
        await pilot.press("ctrl+r")
        await pilot.pause()
    choice = app.result
    assert choice.in_place and choice.place is RESTORED_PLACE and choice.destination == ""
    assert choice.where() == "the original place on sdb (as /dev/sda)"
    assert choice.existing == "newer"
    assert [(s.fs, s.rules) for s in choice.selections] == [(2, [(b"/etc", True)])]


async def test_several_places_are_a_choice_made_with_the_keyboard(tmp_path):
    app = PickerApp(tmp_path, places=[RESTORED_PLACE, ORIGINAL_PLACE])
    async with app.run_test(size=(100, 30)) as pilot:
        place = app.screen.query_one("#picker-place", Select)
        assert place.is_blank()  # nothing is taken for the operator
        await pilot.press("down", "space", "ctrl+r")  # /etc, but no place chosen yet
        await pilot.pause()
        assert app.result == "not dismissed" and place.has_focus
        await pilot.press("enter")  # open the list: sdb, sda (in use), a directory
        await pilot.pause()
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        assert place.value == 1
        await pilot.press("ctrl+r")
        await pilot.pause()
    assert app.result.place is ORIGINAL_PLACE


async def test_choosing_a_directory_shows_and_focuses_its_field(tmp_path):
    app = PickerApp(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("down", "space", "tab")  # /etc; then to the destination choice
        place = app.screen.query_one("#picker-place", Select)
        assert place.has_focus
        await pilot.press("enter", "down", "enter")  # "Into a directory"
        await pilot.pause()
        assert place.value == INTO_DIRECTORY
        field = app.screen.query_one("#picker-destination", Input)
        assert field.display and field.has_focus
        await pilot.press(*"/tmp/back", "ctrl+r")
        await pilot.pause()
    choice = app.result
    assert not choice.in_place and choice.destination == "/tmp/back"
    assert choice.where() == "/tmp/back"


async def test_another_filesystem_and_another_directory(tmp_path):
    app = PickerApp(tmp_path, places=[])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("down", "down", "space")  # /home
        app.screen.query_one("#picker-filesystem", Select).value = 3
        await pilot.pause()
        tree = app.screen.query_one(FileTree)
        assert names(tree) == ["/srv/data", "notes.txt", "www/"]
        tree.focus()
        await pilot.press("end", "space")  # /www, the last row
        summary = str(app.screen.query_one("#picker-summary").render())
        assert summary == "To restore: 8 entries, 67.5 KiB from 2 filesystems"
        app.screen.query_one("#picker-destination", Input).value = "/tmp/restored"
        await pilot.click("#picker-restore")
        await pilot.pause()
    choice = app.result
    assert choice.destination == "/tmp/restored" and not choice.in_place
    assert choice.existing == "overwrite"
    assert sorted((s.fs, s.rules) for s in choice.selections) == [
        (2, [(b"/home", True)]), (3, [(b"/www", True)])]


async def test_nothing_selected_or_no_directory_is_refused(tmp_path):
    app = PickerApp(tmp_path, places=[])
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.screen.query_one("#picker-place", Select).value == INTO_DIRECTORY
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.result == "not dismissed"
        await pilot.press("down", "space", "ctrl+r")  # selected, but no directory
        await pilot.pause()
        assert app.result == "not dismissed"
        assert app.screen.query_one("#picker-destination", Input).has_focus
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is None


async def test_search_jumps_to_matches_and_opens_the_way(tmp_path):
    app = PickerApp(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        tree = app.screen.query_one(FileTree)
        await pilot.press("slash", *"ssh", "enter")
        await pilot.pause()
        assert tree.has_focus
        assert tree.cursor_row.entry.path == b"/etc/ssh"
        await pilot.press("n")
        assert tree.cursor_row.entry.path == b"/etc/ssh/ssh_config"
        await pilot.press("n")
        assert tree.cursor_row.entry.path == b"/etc/ssh/sshd_config"
        await pilot.press("n")  # wraps around
        assert tree.cursor_row.entry.path == b"/etc/ssh"
        await pilot.press("N")
        assert tree.cursor_row.entry.path == b"/etc/ssh/sshd_config"
        status = str(app.screen.query_one("#file-tree-status").render())
        assert status.endswith("'ssh': 3 matches (n/N)")


async def test_search_while_typing_and_in_a_large_directory(tmp_path):
    app = PickerApp(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        tree = app.screen.query_one(FileTree)
        await pilot.press("slash", *"m0999")
        await pilot.pause(0.6)  # the search runs once typing stops
        assert tree.cursor_row.entry.path == b"/var/spool/mail/m0999"
        assert tree.model.height == 1 + 3 + 2 + 1 + 1000  # /, etc home var, log spool, mail, m*
        assert "m0999" in row_text(tree, tree.cursor)  # it is on screen
        await pilot.press("escape")
        assert tree.has_focus
        await pilot.press("home", "pagedown")
        assert tree.cursor == tree.scrollable_content_region.height - 1


@pytest.mark.parametrize("width", [40, 60])
async def test_narrow_screens_still_show_names(tmp_path, width):
    app = PickerApp(tmp_path)
    async with app.run_test(size=(width, 24)):
        tree = app.screen.query_one(FileTree)
        assert all(len(line) <= width for line in lines(tree))
        assert names(tree) == ["/", "etc/", "home/", "var/"]
