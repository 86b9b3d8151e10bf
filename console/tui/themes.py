"""Colour themes, the one for the Linux text console (VGA font, 16 colours) and the one for
a serial terminal (VT220: ASCII, no colour).

The Linux console draws only the glyphs of its font (the 256 of code page 437 on a plain VGA
console) and only 8 background colours (the bright ones blink instead). Its theme therefore uses
the ANSI colours themselves, dark backgrounds only, and the app switches to glyphs the font has:
light box lines, no rounded or heavy borders, no eighth blocks, no emoji.

A VT220 on a serial line has no colour and, as Textual writes UTF-8, no glyph beyond ASCII. Its
theme leaves every colour to the terminal but the highlights (a list's cursor, a field's cursor),
which it marks with a background that `ReverseVideo` draws as reverse video, as a monochrome
terminal shows a highlight; the app switches to the ASCII glyph set (widgets.glyphs).
"""

from __future__ import annotations

import os
import re

from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import LineFilter
from textual.theme import BUILTIN_THEMES, Theme

from widgets.glyphs import ASCII, UNICODE, VGA, Glyphs

LINUX_CONSOLE = "linux-console"
SERIAL_TERMINAL = "vt220"
DEFAULT_THEME = "textual-dark"

LINUX_CONSOLE_THEME = Theme(
    name=LINUX_CONSOLE,
    ansi=True,
    dark=True,
    primary="ansi_blue",
    secondary="ansi_cyan",
    warning="ansi_yellow",
    error="ansi_red",
    success="ansi_green",
    accent="ansi_cyan",
    foreground="ansi_white",
    background="ansi_black",
    surface="ansi_black",
    panel="ansi_blue",
    boost="ansi_default",
    variables={
        "ansi-background": "ansi_black",
        "ansi-foreground": "ansi_white",
        "border": "ansi_cyan",
        "border-blurred": "ansi_white",
        "block-cursor-foreground": "ansi_bright_white",
        "block-cursor-background": "ansi_blue",
        "block-cursor-text-style": "bold",
        "block-cursor-blurred-foreground": "ansi_black",
        "block-cursor-blurred-background": "ansi_white",
        "block-hover-background": "ansi_black",
        "input-cursor-background": "ansi_white",
        "input-cursor-foreground": "ansi_black",
        "input-cursor-text-style": "none",
        "input-selection-background": "ansi_cyan",
        "input-selection-foreground": "ansi_black",
        "screen-selection-background": "ansi_cyan",
        "screen-selection-foreground": "ansi_black",
        "scrollbar": "ansi_cyan",
        "scrollbar-hover": "ansi_cyan",
        "scrollbar-active": "ansi_white",
        "scrollbar-background": "ansi_black",
        "scrollbar-background-hover": "ansi_black",
        "scrollbar-background-active": "ansi_black",
        "scrollbar-corner-color": "ansi_black",
        "footer-background": "ansi_blue",
        "footer-foreground": "ansi_white",
        "footer-key-foreground": "ansi_bright_yellow",
        "footer-key-background": "ansi_blue",
        "footer-description-foreground": "ansi_bright_white",
        "footer-description-background": "ansi_blue",
        "footer-item-background": "ansi_blue",
        "text-muted": "ansi_white",
        "text-disabled": "ansi_bright_black",
    },
)

SERIAL_TERMINAL_THEME = Theme(
    name=SERIAL_TERMINAL,
    ansi=True,
    dark=True,
    # Every colour the terminal's own: what stands out does so by reverse, bold or underline.
    primary="ansi_default",
    secondary="ansi_default",
    warning="ansi_default",
    error="ansi_default",
    success="ansi_default",
    accent="ansi_default",
    foreground="ansi_default",
    background="ansi_default",
    surface="ansi_default",
    panel="ansi_default",
    boost="ansi_default",
    variables={
        "ansi-background": "ansi_default",
        "ansi-foreground": "ansi_default",
        "border": "ansi_default",
        "border-blurred": "ansi_default",
        # A background here is a highlight: drawn in reverse video (ReverseVideo).
        "block-cursor-foreground": "ansi_default",
        "block-cursor-background": "ansi_white",
        "block-cursor-text-style": "bold",
        "block-cursor-blurred-foreground": "ansi_default",
        "block-cursor-blurred-background": "ansi_default",
        "block-cursor-blurred-text-style": "underline",
        "block-hover-background": "ansi_default",
        "input-cursor-background": "ansi_white",
        "input-cursor-foreground": "ansi_default",
        "input-cursor-text-style": "none",
        "input-selection-background": "ansi_default",
        "input-selection-foreground": "ansi_default",
        "screen-selection-background": "ansi_default",
        "screen-selection-foreground": "ansi_default",
        "scrollbar": "ansi_default",
        "scrollbar-hover": "ansi_default",
        "scrollbar-active": "ansi_default",
        "scrollbar-background": "ansi_default",
        "scrollbar-background-hover": "ansi_default",
        "scrollbar-background-active": "ansi_default",
        "scrollbar-corner-color": "ansi_default",
        "footer-background": "ansi_default",
        "footer-foreground": "ansi_default",
        "footer-key-foreground": "ansi_default",
        "footer-key-background": "ansi_default",
        "footer-description-foreground": "ansi_default",
        "footer-description-background": "ansi_default",
        "footer-item-background": "ansi_default",
        "button-foreground": "ansi_default",
        "button-color-foreground": "ansi_default",
        "button-focus-text-style": "bold reverse",
        "text": "ansi_default",
        "text-muted": "ansi_default",
        "text-disabled": "ansi_default",
        "foreground-muted": "ansi_default",
        "foreground-disabled": "ansi_default",
    },
)

class ReverseVideo(LineFilter):
    """Drawing for a terminal without colour: every colour goes, and a background other than
    the terminal's own becomes reverse video, as a monochrome terminal shows a highlight.
    Bold, underline and reverse stay."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [Segment(text, None if style is None else _without_colour(style), control)
                for text, style, control in segments]


PLAIN = Style(color="default", bgcolor="default")
REVERSE = Style(reverse=True)


@lru_cache(1024)
def _without_colour(style: Style) -> Style:
    highlighted = style.bgcolor is not None and not style.bgcolor.is_default
    return style + PLAIN + REVERSE if highlighted else style + PLAIN


# The glyphs each theme draws with; a theme not named here draws Unicode.
THEME_GLYPHS = {LINUX_CONSOLE: VGA, SERIAL_TERMINAL: ASCII}

# TERM values of terminals that draw ASCII alone: the DEC VTs (vt52 to vt525 and their
# variants; not "vte", a graphical terminal) and "ansi", PC ANSI terminals and their emulators,
# which read bytes as code page 437, so that UTF-8 would come out garbled.
ASCII_TERMS = re.compile(r"vt\d|ansi")


def glyphs_for_theme(theme: str) -> Glyphs:
    return THEME_GLYPHS.get(theme, UNICODE)


def theme_names() -> list[str]:
    return sorted([*BUILTIN_THEMES, LINUX_CONSOLE, SERIAL_TERMINAL])


def choose_theme(requested: str | None, term: str | None = None) -> str:
    """--theme wins; on the Linux console (TERM=linux) its own theme; on a serial terminal
    (TERM=vt100, vt102, vt220, vt320, any vt*, or ansi) the ASCII one; else the default."""
    if requested:
        return requested
    term = os.environ.get("TERM", "") if term is None else term
    if term == "linux":
        return LINUX_CONSOLE
    if ASCII_TERMS.match(term):
        return SERIAL_TERMINAL
    return DEFAULT_THEME
