"""choose_theme: the theme for the terminal TERM names, unless --theme names one."""

from __future__ import annotations

import pytest

from console.tui.themes import (
    DEFAULT_THEME,
    LINUX_CONSOLE,
    SERIAL_TERMINAL,
    choose_theme,
)


@pytest.mark.parametrize("term", ["vt100", "vt102", "vt220", "vt320", "vt420", "vt52",
                                  "vt100-nam", "vt220-8bit", "ansi", "ansi-m"])
def test_a_serial_terminal_gets_the_ascii_theme(term):
    assert choose_theme(None, term) == SERIAL_TERMINAL


@pytest.mark.parametrize("term", ["xterm", "xterm-256color", "screen", "tmux-256color",
                                  "vte-256color", "rxvt-unicode", ""])
def test_other_terminals_get_the_default_theme(term):
    assert choose_theme(None, term) == DEFAULT_THEME


def test_the_linux_console_gets_its_own_theme():
    assert choose_theme(None, "linux") == LINUX_CONSOLE


def test_the_option_wins_over_term():
    assert choose_theme("textual-light", "vt220") == "textual-light"
    assert choose_theme(LINUX_CONSOLE, "vt220") == LINUX_CONSOLE
    assert choose_theme(SERIAL_TERMINAL, "xterm") == SERIAL_TERMINAL
