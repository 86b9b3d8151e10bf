"""The footer at 80 columns: F1 Help is there in full on every screen, in every theme."""

from __future__ import annotations

import pytest
from textual.widgets import Select

from tests.functional.scenes import SCENES, _files_app
from tests.functional.screentext import screen_text


async def picker_on_its_tree(pilot) -> None:
    """The file picker as it opens: the tree focused, with its own keys in the footer."""
    await pilot.press("f")
    await pilot.pause()


FOOTERS = {**SCENES, "picker-on-its-tree": (_files_app, picker_on_its_tree)}


# On a serial terminal the footer shows the key typed instead of F1 (which it may not have).
HELP_IN_THE_FOOTER = {"textual-dark": "F1 Help", "linux-console": "F1 Help", "vt220": "? Help"}


@pytest.mark.parametrize("theme", list(HELP_IN_THE_FOOTER))
@pytest.mark.parametrize("scene", FOOTERS)
async def test_f1_help_is_on_the_last_line_of_every_screen_at_80_columns(scene, theme):
    make_app, reach = FOOTERS[scene]
    app = make_app(theme)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await reach(pilot)
            # An open drop-down list covers what is under it, the footer too: closed here.
            for select in app.screen.query(Select):
                select.expanded = False
            await pilot.pause()
            last = screen_text(app).splitlines()[-1]
            assert HELP_IN_THE_FOOTER[theme] in last, last
    finally:
        for screen in app.screen_stack:
            if hasattr(screen, "cancel_requested"):
                screen.cancel_requested.set()
