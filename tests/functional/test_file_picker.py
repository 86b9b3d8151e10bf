"""The file tree and the "Restore selected files" screen, driven with Pilot."""

import pytest
from textual.widgets import Input, Select

from console.core.backupset.entries import Totals
from console.tui.screens.file_picker import INTO_DIRECTORY
from tests.functional.picker_fixture import ORIGINAL_PLACE, RESTORED_PLACE, PickerApp
from tests.functional.screentext import screen_text
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
        assert names(tree) == ["/", "etc/", "home/", "srv/", "var/", "fs-4:/", "build/"]
        await pilot.press("down", "enter")  # open etc
        assert tree.model.is_open(b"/etc")
        assert names(tree)[:8] == ["/", "etc/", "hostname", "passwd", "ssh/", "home/", "srv/",
                                   "var/"]
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
        assert status.startswith("6 entries, 6.0 KiB selected of 1,027 (6.7 MiB)")
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


async def test_tab_after_choosing_a_directory_goes_to_its_field(tmp_path):
    """The choice keeps the focus, so Tab reaches the field that appeared beside it, and the
    path typed there is the one restored into."""
    app = PickerApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "space", "tab")  # /etc; then to the destination choice
        place = app.screen.query_one("#picker-place", Select)
        assert place.has_focus
        await pilot.press("enter", "down", "enter")  # "A directory"
        await pilot.pause()
        assert place.value == INTO_DIRECTORY and place.has_focus
        field = app.screen.query_one("#picker-destination", Input)
        assert field.display
        await pilot.press("tab")
        assert field.has_focus
        await pilot.press(*"/tmp/back", "ctrl+r")
        await pilot.pause()
    choice = app.result
    assert not choice.in_place and choice.destination == "/tmp/back"
    assert choice.where() == "/tmp/back"


async def test_the_set_is_one_tree_with_each_filesystem_at_its_mount_point(tmp_path):
    """/srv/data's filesystem is the /srv/data directory of /; the one with no mount point
    follows, named as such. Selections in each go to the restore per filesystem."""
    app = PickerApp(tmp_path, places=[])
    async with app.run_test(size=(100, 30)) as pilot:
        tree = app.screen.query_one(FileTree)
        assert names(tree) == ["/", "etc/", "home/", "srv/", "var/", "fs-4:/", "build/"]
        assert 'fs-4:/  (ext4 "scratch", had no mount point)' in row_text(tree, 5)
        await pilot.press("down", "down", "space")  # /home, on /
        await pilot.press("down", "enter", "down", "enter")  # open /srv, then /srv/data
        assert names(tree)[3:7] == ["srv/", "data/", "notes.txt", "www/"]
        assert "20.5 KiB" in row_text(tree, 4)  # /srv/data: the size of its filesystem
        await pilot.press("down", "down", "space")  # /srv/data/www, on the data filesystem
        assert row_text(tree, 4).startswith("[-]") and row_text(tree, 0).startswith("[-]")
        await pilot.press("end", "space")  # fs-4:/build
        summary = str(app.screen.query_one("#picker-summary").render())
        assert summary == "To restore: 10 entries, 69.5 KiB from 3 filesystems"
        app.screen.query_one("#picker-destination", Input).value = "/tmp/restored"
        await pilot.click("#picker-restore")
        await pilot.pause()
    choice = app.result
    assert choice.destination == "/tmp/restored" and not choice.in_place
    assert choice.existing == "overwrite"
    assert [(s.fs, s.rules) for s in choice.selections] == [
        (2, [(b"/home", True)]), (3, [(b"/www", True)]), (4, [(b"/build", True)])]


async def test_selecting_a_mount_point_or_the_root_takes_the_filesystems_below(tmp_path):
    app = PickerApp(tmp_path, places=[])
    async with app.run_test(size=(100, 30)) as pilot:
        tree = app.screen.query_one(FileTree)
        await pilot.press("down", "down", "down", "enter", "down", "space")  # /srv/data
        assert row_text(tree, 4).startswith("[x]") and row_text(tree, 3).startswith("[-]")
        assert [(s.fs, s.rules) for s in app.trees.selections()] == [(3, [(b"/", True)])]
        await pilot.press("home", "space")  # all of /: every filesystem mounted in it
        assert row_text(tree, 0).startswith("[x]") and row_text(tree, 4).startswith("[x]")
        assert [(s.fs, s.rules) for s in app.trees.selections()] == [
            (2, [(b"/", True)]), (3, [(b"/", True)])]
        await pilot.press("down", "down", "down", "down", "space")  # /srv/data off again
        assert row_text(tree, 0).startswith("[-]")
        assert [(s.fs, s.rules) for s in app.trees.selections()] == [(2, [(b"/", True)])]


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
        assert tree.cursor_row.path == b"/var/spool/mail/m0999"
        # /; etc home srv var; log spool; mail; m*; fs-4:/ and its build
        assert tree.model.height == 1 + 4 + 2 + 1 + 1000 + 2
        await pilot.press("escape")
        assert tree.has_focus
        await pilot.press("home", "pagedown")
        assert tree.cursor == tree.scrollable_content_region.height - 1


async def test_a_search_scrolls_to_its_match(tmp_path):
    """The match is drawn on the screen, not only under a cursor out of sight."""
    app = PickerApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        tree = app.screen.query_one(FileTree)
        await pilot.press("slash", *"m0500", "enter")
        await pilot.pause()
        assert tree.cursor_row.entry.path == b"/var/spool/mail/m0500"
        top = tree.scroll_offset.y
        assert top <= tree.cursor < top + tree.scrollable_content_region.height
        assert "m0500" in screen_text(app)


async def test_a_search_goes_across_the_filesystems_in_the_tree_order(tmp_path):
    app = PickerApp(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        tree = app.screen.query_one(FileTree)
        await pilot.press("slash", *"*.*", "enter")
        await pilot.pause()
        found = [tree.cursor_row.path]
        for _ in range(5):
            await pilot.press("n")
            found.append(tree.cursor_row.path)
        assert found == [b"/home/anna/caf\xe9.txt", b"/home/anna/letter.odt",
                         b"/srv/data/notes.txt", b"/srv/data/www/index.html",
                         b"/srv/data/www/logo.png", b"fs-4:/build/out.log"]
        await pilot.press("n")  # wraps around
        assert tree.cursor_row.path == b"/home/anna/caf\xe9.txt"
        await pilot.press("N")
        assert tree.cursor_row.path == b"fs-4:/build/out.log"
        status = str(app.screen.query_one("#file-tree-status").render())
        assert status.endswith("'*.*': 6 matches (n/N)")


@pytest.mark.parametrize("width", [40, 60])
async def test_narrow_screens_still_show_names(tmp_path, width):
    app = PickerApp(tmp_path)
    async with app.run_test(size=(width, 24)):
        tree = app.screen.query_one(FileTree)
        assert all(len(line) <= width for line in lines(tree))
        assert names(tree) == ["/", "etc/", "home/", "srv/", "var/", "fs-4:/", "build/"]
