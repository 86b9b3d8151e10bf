"""The characters the console draws, one set per kind of terminal.

A terminal draws only the glyphs it has: a graphical terminal most of Unicode, the Linux text
console the 256 of its VGA font (code page 437), a serial terminal (VT220 and the like, or a
terminal server without UTF-8) ASCII alone, since Textual writes UTF-8 and never switches to
the DEC line-drawing set. The app picks the set for its theme (console.tui.themes) and keeps
it in `App.glyphs`; the widgets ask for it with `glyphs_of(widget)`, so that a new kind of
terminal is a new row here rather than a condition in every widget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.scrollbar import ScrollBarRender
from textual.widget import Widget


class WholeCellScrollBarRender(ScrollBarRender):
    """Scroll bars in whole cells, the thumb in reverse video: no eighth blocks."""

    VERTICAL_BARS = [" "] * 8
    HORIZONTAL_BARS = [" "] * 8


# Key names the footer and help show where the default display is a glyph the font lacks.
KEY_NAMES_IN_WORDS = {"enter": "Enter", "backspace": "Bksp", "tab": "Tab", "escape": "Esc",
                      "up": "Up", "down": "Down", "left": "Left", "right": "Right"}


@dataclass(frozen=True)
class Glyphs:
    """What one kind of terminal can draw, for the widgets and the app's CSS."""

    kind: str
    css_class: str  # set on the App, for the CSS that swaps what the terminal lacks
    box: str  # the CSS border type of frames and lines: "solid" or "ascii"
    colour: bool  # False: every colour is taken out of what is drawn; styles stay
    tree_open: str
    tree_closed: str
    password_mask: str
    drop_down_closed: str  # the arrow of a closed drop-down list, and of an open one
    drop_down_open: str
    search_icon: str | None  # the command palette's search mark; None keeps Textual's
    scroll_bar: type[ScrollBarRender]
    meter_done: str  # drawn over the meter's colours: a space where colours alone show it
    meter_todo: str
    # The partition bar's fill by segment style ("fs-used" the used part of a filesystem).
    bar_fill: dict[str, str] = field(default_factory=dict)
    key_names: dict[str, str] = field(default_factory=dict)

    def fill(self, style: str) -> str:
        return self.bar_fill.get(style, " ")


UNICODE = Glyphs(
    kind="unicode", css_class="", box="solid", colour=True, tree_open="▼ ", tree_closed="► ",
    password_mask="•", drop_down_closed="▼", drop_down_open="▲", search_icon=None,
    scroll_bar=ScrollBarRender,
    meter_done=" ", meter_todo=" ", bar_fill={"free": "."},
)

VGA = Glyphs(
    kind="vga", css_class="-vga", box="solid", colour=True, tree_open="▼ ", tree_closed="► ",
    password_mask="•", drop_down_closed="▼", drop_down_open="▲", search_icon=">",
    scroll_bar=WholeCellScrollBarRender,
    meter_done=" ", meter_todo=" ", bar_fill={"free": "."}, key_names=KEY_NAMES_IN_WORDS,
)

# No colour either: every part of the bars is told by its character.
ASCII = Glyphs(
    kind="ascii", css_class="-ascii", box="ascii", colour=False, tree_open="v ", tree_closed="> ",
    password_mask="*", drop_down_closed="v", drop_down_open="^", search_icon=">",
    scroll_bar=WholeCellScrollBarRender,
    meter_done="#", meter_todo="-",
    bar_fill={"fs-used": "#", "fs": "-", "swap": "~", "boot": "=", "raw": "%", "other": "?",
              "free": "."},
    key_names=KEY_NAMES_IN_WORDS,
)

GLYPH_SETS = {glyphs.kind: glyphs for glyphs in (UNICODE, VGA, ASCII)}


def glyphs_of(widget: Widget) -> Glyphs:
    """The glyph set of the widget's app; Unicode in an app that has none (a test's own)."""
    glyphs = getattr(widget.app, "glyphs", UNICODE)
    return glyphs if isinstance(glyphs, Glyphs) else UNICODE
