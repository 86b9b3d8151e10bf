"""SVG snapshots of every screen at 80x24 and 120x40, with the Linux-console theme and with the
serial-terminal (vt220) one; and of the file picker on its own small set, at both sizes and in
its states.

They are kept in snapshots/test_snapshots/ at the repository root (tests/conftest.py says so).
After a deliberate change of a screen: pytest tests/functional/test_snapshots.py
--snapshot-update, then look at the new SVGs before committing them.
"""

from __future__ import annotations

import pytest

from tests.functional.picker_fixture import ORIGINAL_PLACE, RESTORED_PLACE, PickerApp
from tests.functional.scenes import SCENES

VARIANTS = {
    "80x24": ("textual-dark", (80, 24)),
    "120x40": ("textual-dark", (120, 40)),
    "linux-console-80x24": ("linux-console", (80, 24)),
    # A serial terminal (TERM=vt220): ASCII only, no colour.
    "vt220-80x24": ("vt220", (80, 24)),
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("scene", SCENES)
def test_screen(scene, variant, snap_compare):
    make_app, reach = SCENES[scene]
    theme, size = VARIANTS[variant]
    app = make_app(theme)
    try:
        assert snap_compare(app, terminal_size=size, run_before=reach)
    finally:
        for screen in app.screen_stack:  # a held scripted restore ends with the app
            if hasattr(screen, "cancel_requested"):
                screen.cancel_requested.set()


# The file picker on the three-filesystem set of picker_fixture (no whole-app stage needed).
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
    """The terminal's own 16 colours (ansi-dark), for terminals that have no more."""
    keys = ["down", "enter", "down", "down", "space"]
    assert snap_compare(PickerApp(tmp_path, theme="ansi-dark"), press=keys, terminal_size=(80, 24))


def test_picker_with_places_to_choose_from(snap_compare, tmp_path):
    """Two disks hold the set's filesystems (the restored one, the original in use): the list
    open, nothing chosen for the operator."""
    keys = ["down", "space", "tab", "enter"]
    app = PickerApp(tmp_path, places=[RESTORED_PLACE, ORIGINAL_PLACE])
    assert snap_compare(app, press=keys, terminal_size=(80, 24))


def test_picker_into_a_directory(snap_compare, tmp_path):
    """A directory chosen instead of the original place: its field appears; Tab, typed into."""
    keys = ["down", "space", "tab", "enter", "down", "enter", "tab", *"/mnt/restored"]
    assert snap_compare(PickerApp(tmp_path), press=keys, terminal_size=(80, 24))
