"""SVG snapshots of "Restore selected files" at 80x24 and 120x40 (snapshots/ at the repository
root; `pytest --snapshot-update` after a deliberate change, then look at the SVGs)."""

import pytest

from tests.picker_fixture import ORIGINAL_PLACE, RESTORED_PLACE, PickerApp

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_picker_opens_on_the_root(snap_compare, tmp_path, size):
    assert snap_compare(PickerApp(tmp_path), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_picker_with_a_selection_and_a_search(snap_compare, tmp_path, size):
    # /etc opened, /etc/passwd selected, /home selected, then a search for "ssh" and one jump.
    keys = ["down", "enter", "down", "down", "space", "down", "down", "space",
            "slash", *"ssh", "enter", "n"]
    assert snap_compare(PickerApp(tmp_path), press=keys, terminal_size=size)


def test_picker_in_ansi_colours(snap_compare, tmp_path):
    """The terminal's own 16 colours, as on the Linux console (the app's console theme, from
    the console issue, is not in this branch: ansi-dark stands in for it)."""
    keys = ["down", "enter", "down", "down", "space"]
    assert snap_compare(PickerApp(tmp_path, theme="ansi-dark"), press=keys, terminal_size=(80, 24))


def test_picker_with_places_to_choose_from(snap_compare, tmp_path):
    """Two disks hold the set's filesystems (the restored one, the original in use): the list
    open, nothing chosen for the operator."""
    keys = ["down", "space", "tab", "enter"]
    app = PickerApp(tmp_path, places=[RESTORED_PLACE, ORIGINAL_PLACE])
    assert snap_compare(app, press=keys, terminal_size=(80, 24))


def test_picker_into_a_directory(snap_compare, tmp_path):
    """A directory chosen instead of the original place: its field appears, typed into."""
    keys = ["down", "space", "tab", "enter", "down", "enter", *"/mnt/restored"]
    assert snap_compare(PickerApp(tmp_path), press=keys, terminal_size=(80, 24))
