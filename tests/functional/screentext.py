"""The current screen as plain text, drawn as the terminal would show it (the same render that
Textual's SVG screenshots print, exported as text instead)."""

from __future__ import annotations

import io

from rich.console import Console
from rich.segment import Segment


def _recorded(app) -> Console:
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False,
                      safe_box=False)
    # _compositor and _background_screens: what App.export_screenshot itself uses.
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console


def screen_text(app) -> str:
    return _recorded(app).export_text()


def screen_segments(app) -> list[Segment]:
    """The screen as drawn, with the style of each piece; the cursor moves left out."""
    return [segment for segment in _recorded(app)._record_buffer if not segment.control]


def shown(app) -> str:
    """The screen's words in one line, as a person reads them: wrapping and padding undone."""
    return " ".join(screen_text(app).split())
