"""Colour themes, and the one for the Linux text console (VGA font, 16 colours).

The Linux console draws only the glyphs of its font (the 256 of code page 437 on a plain VGA
console) and only 8 background colours (the bright ones blink instead). Its theme therefore uses
the ANSI colours themselves, dark backgrounds only, and the app switches to glyphs the font has:
light box lines, no rounded or heavy borders, no eighth blocks, no emoji.
"""

from __future__ import annotations

import os

from textual.scrollbar import ScrollBarRender
from textual.theme import BUILTIN_THEMES, Theme

LINUX_CONSOLE = "linux-console"
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

# Key names the footer and help show where the default display is a glyph the font lacks.
VGA_KEY_NAMES = {"enter": "Enter", "backspace": "Bksp", "tab": "Tab", "escape": "Esc",
                 "up": "Up", "down": "Down", "left": "Left", "right": "Right"}


class VgaScrollBarRender(ScrollBarRender):
    """Scroll bars in whole cells: the VGA font has no eighth blocks."""

    VERTICAL_BARS = [" "] * 8
    HORIZONTAL_BARS = [" "] * 8


def theme_names() -> list[str]:
    return sorted([*BUILTIN_THEMES, LINUX_CONSOLE])


def choose_theme(requested: str | None, term: str | None = None) -> str:
    """--theme wins; on the Linux console (TERM=linux) its own theme; else the default."""
    if requested:
        return requested
    term = os.environ.get("TERM", "") if term is None else term
    return LINUX_CONSOLE if term == "linux" else DEFAULT_THEME
