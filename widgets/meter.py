"""A progress meter: spaces in two colours, or on a terminal without colour the characters of
its glyph set ("#####-----")."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from widgets.glyphs import glyphs_of


class Meter(Widget):
    """A bar filled to `fraction` (0..1, None while unknown) with the percentage at its end."""

    DEFAULT_CSS = """
    Meter { height: 1; width: 1fr; }
    Meter > .meter--done { background: $success; color: $background; }
    Meter > .meter--todo { background: $panel; color: $text; }
    """
    COMPONENT_CLASSES = {"meter--done", "meter--todo"}

    fraction: reactive[float | None] = reactive(None)

    def render(self) -> Text:
        width = max(self.size.width - 5, 1)
        if self.fraction is None:
            return Text(" " * width + "   ?", no_wrap=True)
        fraction = min(max(self.fraction, 0.0), 1.0)
        done = round(width * fraction)
        glyphs = glyphs_of(self)
        text = Text(no_wrap=True)
        text.append(glyphs.meter_done * done,
                    self.get_component_rich_style("meter--done", partial=True))
        text.append(glyphs.meter_todo * (width - done),
                    self.get_component_rich_style("meter--todo", partial=True))
        text.append(f"{int(fraction * 100):>4}%")
        return text
