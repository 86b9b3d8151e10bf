"""Textual's drop-down list and password field, drawn with the terminal's glyphs
(widgets.glyphs): Textual draws their arrows and mask with characters a serial terminal lacks."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Input, Select, Static

from widgets.glyphs import glyphs_of


class DropDown(Select):
    """A Select whose arrows are the terminal's ("v" and "^" in ASCII)."""

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._draw_arrows)

    def _draw_arrows(self, _theme: str = "") -> None:
        glyphs = glyphs_of(self)
        self.query_one(".down-arrow", Static).update(glyphs.drop_down_closed)
        self.query_one(".up-arrow", Static).update(glyphs.drop_down_open)


class SecretInput(Input):
    """A password field masked with the terminal's mask ("*" in ASCII)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, password=True, **kwargs)

    @property
    def _value(self) -> Text:
        # Input draws its mask here, with a glyph of its own.
        return Text(glyphs_of(self).password_mask * len(self.value), no_wrap=True,
                    overflow="ignore", end="")
