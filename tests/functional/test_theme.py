"""The theme: chosen by TERM or --theme; on the Linux console only glyphs the VGA font has, on a
serial terminal (VT220) only ASCII and no colour."""

from __future__ import annotations

import pytest

from console.cli import main
from console.tui.themes import DEFAULT_THEME, LINUX_CONSOLE, SERIAL_TERMINAL, choose_theme
from tests.functional.scenes import SCENES
from tests.functional.screentext import screen_segments, screen_text
from tests.functional.stage import stage_app

# Code page 437, the VGA text font: printable ASCII, its upper half, and the glyphs it draws
# for the control codes (which Python's cp437 codec leaves as controls).
CP437 = set(bytes(range(0x20, 0x7F)).decode("cp437")) | \
    set(bytes(range(0x80, 0x100)).decode("cp437")) | \
    set("☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼⌂")


def not_in_vga_font(text: str) -> set[str]:
    return {c for c in text if c != "\n" and c not in CP437}


def not_ascii(text: str) -> set[str]:
    return {c for c in text if c != "\n" and not " " <= c <= "~"}


def test_theme_is_chosen_by_term_and_by_the_option():
    assert choose_theme(None, "linux") == LINUX_CONSOLE
    assert choose_theme(None, "xterm-256color") == DEFAULT_THEME
    assert choose_theme("textual-light", "linux") == "textual-light"


async def test_on_the_linux_console_the_app_uses_its_theme(monkeypatch):
    monkeypatch.setenv("TERM", "linux")
    app = stage_app(theme=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == LINUX_CONSOLE
        assert app.has_class("-vga")
        assert app.current_theme.ansi  # the terminal's own 16 colours, not RGB
    monkeypatch.setenv("TERM", "xterm")
    app = stage_app(theme=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == DEFAULT_THEME and not app.has_class("-vga")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("scene", SCENES)
async def test_the_linux_console_theme_draws_only_vga_glyphs(scene, size):
    make_app, reach = SCENES[scene]
    app = make_app(LINUX_CONSOLE)
    try:
        async with app.run_test(size=size) as pilot:
            await reach(pilot)
            await pilot.pause()
            text = screen_text(app)
            assert not_in_vga_font(text) == set(), text
    finally:
        for screen in app.screen_stack:
            if hasattr(screen, "cancel_requested"):
                screen.cancel_requested.set()


async def test_the_glyph_check_would_notice_a_glyph_the_font_lacks():
    make_app, reach = SCENES["picker"]
    app = make_app(DEFAULT_THEME)  # its drop-down lists are framed with U+2594 and U+2581
    async with app.run_test(size=(80, 24)) as pilot:
        await reach(pilot)
        assert "\u2594" in not_in_vga_font(screen_text(app))


async def test_on_a_serial_terminal_the_app_uses_its_theme(monkeypatch):
    monkeypatch.setenv("TERM", "vt220")
    app = stage_app(theme=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == SERIAL_TERMINAL
        assert app.has_class("-ascii") and not app.has_class("-vga")


def coloured(app) -> set[tuple[str, str]]:
    """What is drawn in a colour other than the terminal's own, with its style."""
    return {(segment.text, str(segment.style)) for segment in screen_segments(app)
            if segment.style is not None
            and any(colour is not None and not colour.is_default
                    for colour in (segment.style.color, segment.style.bgcolor))}


def _end_held_restores(app) -> None:
    for screen in app.screen_stack:
        if hasattr(screen, "cancel_requested"):
            screen.cancel_requested.set()


@pytest.mark.parametrize("scene", SCENES)
async def test_the_serial_theme_draws_only_ascii_without_colour(scene):
    make_app, reach = SCENES[scene]
    app = make_app(SERIAL_TERMINAL)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await reach(pilot)
            await pilot.pause()
            text = screen_text(app)
            assert not_ascii(text) == set(), text
            assert coloured(app) == set()
    finally:
        _end_held_restores(app)


async def test_the_ascii_check_would_notice_a_glyph_beyond_ascii():
    make_app, reach = SCENES["picker"]
    app = make_app(LINUX_CONSOLE)  # box lines, the tree's arrows, the drop-down's arrow
    async with app.run_test(size=(80, 24)) as pilot:
        await reach(pilot)
        assert {"─", "►", "▼"} <= not_ascii(screen_text(app))
        assert coloured(app)  # and the colour check would notice the linux console's colours


def _reversed_rows(app) -> list[str]:
    rows, line = [], []
    for segment in [*screen_segments(app), None]:
        if segment is None or "\n" in segment.text:
            if any(s.style is not None and s.style.reverse for s in line):
                rows.append("".join(s.text for s in line).strip())
            line = []
        else:
            line.append(segment)
    return rows


async def test_on_a_serial_terminal_the_list_cursor_and_the_title_are_reverse_video():
    make_app, reach = SCENES["start"]
    app = make_app(SERIAL_TERMINAL)
    async with app.run_test(size=(80, 24)) as pilot:
        await reach(pilot)
        await pilot.pause()
        assert _reversed_rows(app) == ["restore-console", "[w] Restore the whole machine"]
        await pilot.press("down")
        await pilot.pause()
        assert _reversed_rows(app) == ["restore-console", "[c] Clone onto other disks"]


def test_an_unknown_theme_is_a_usage_error(capsys, tmp_path):
    code = main(["--log", str(tmp_path / "log"), "--theme", "no-such-theme"])
    assert code == 2
    err = capsys.readouterr().err
    assert "There is no theme 'no-such-theme'." in err and "linux-console" in err
