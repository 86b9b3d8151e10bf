"""The e2e test bed's terminal side, without a virtual machine: the text read from the serial
line with the escape sequences taken out, also when one is split between two reads, and the
keys as the terminals' own terminfo entries say they send them."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.e2e.terminal import Transcript, VirtualScreen, key_bytes


def _read(*chunks: bytes) -> str:
    transcript = Transcript()
    for chunk in chunks:
        transcript.feed(chunk)
    return transcript.text


def test_escape_sequences_and_carriage_returns_are_taken_out():
    assert _read(b"\x1b[1;31mred\x1b[0m\r\n\x1b[?25l\x1b]0;title\x07\x1b(Bdone\x1b[6n") \
        == "red\ndone"


def test_a_sequence_split_between_two_reads_is_taken_out_whole():
    assert _read(b"before\x1b[", b"38;5;12", b"mafter\x1bO", b"Pend") == "beforeafterend"


def test_a_character_split_between_two_reads_is_read_whole():
    text = "Größe".encode()
    assert _read(text[:3], text[3:]) == "Größe"


def test_each_search_starts_after_the_previous_match():
    transcript = Transcript()
    transcript.feed(b"@A@\nout 1\n@B@\nout 2\n@B@\n")
    transcript.search(re.compile("@A@\n"))
    first = transcript.search(re.compile("@B@"))
    assert transcript.before(first) == "out 1\n"
    second = transcript.search(re.compile("@B@"))
    assert transcript.before(second) == "\nout 2\n"
    assert transcript.search(re.compile("@B@")) is None


def test_the_screen_puts_text_where_the_cursor_was_sent():
    screen = VirtualScreen(80, 24)
    screen.feed(b"\x1b[2J\x1b[10;20Hhello\x1b[1;1Htop")
    lines = screen.text().split("\n")
    assert lines[0] == "top" and lines[9] == " " * 19 + "hello"
    assert screen.cursor == (3, 0)


def _terminfo(terminal: str) -> dict[str, bytes]:
    shown = subprocess.run(["infocmp", "-1", terminal], capture_output=True, text=True).stdout
    capabilities = {}
    for line in shown.splitlines():
        if match := re.fullmatch(r"\s*(kf[1-4])=(.*),", line):
            capabilities[match.group(1)] = match.group(2).replace("\\E", "\x1b").encode()
    return capabilities


@pytest.mark.skipif(shutil.which("infocmp") is None, reason="needs infocmp (ncurses-bin)")
@pytest.mark.parametrize(("ours", "terminfo"), [("xterm", "xterm"), ("linux", "linux"),
                                                ("vt220", "rxvt")])
def test_the_function_keys_are_what_the_terminals_terminfo_says(ours, terminfo):
    capabilities = _terminfo(terminfo)
    assert capabilities, f"no terminfo entry {terminfo}"
    for number in range(1, 5):
        assert key_bytes(f"F{number}", ours) == capabilities[f"kf{number}"]


def test_an_unknown_key_is_refused_by_name():
    with pytest.raises(KeyError, match="no key 'F13'"):
        key_bytes("F13")
    assert key_bytes("q") == b"q"
