"""The serial line as a terminal: the bytes named keys send, the guest's output as text with the
escape sequences taken out, and the screen a terminal would show (pyte, 80x24 by default), so a
test can read a full-screen application over the serial console."""

from __future__ import annotations

import codecs
import re

import pyte

# What the keys send. Arrows and editing keys are the same on the three; the function keys are
# not: xterm (and vt100/vt220 terminfo) send SS3 P..S for F1-F4, a VT220-style keyboard (PuTTY's
# default, xterm -kt vt220, rxvt) CSI 11~..14~, the Linux console CSI [A..D. Textual reads all.
_COMMON = {
    "Enter": "\r", "Escape": "\x1b", "Tab": "\t", "Backspace": "\x7f", "Space": " ",
    "Up": "\x1b[A", "Down": "\x1b[B", "Right": "\x1b[C", "Left": "\x1b[D",
    "Insert": "\x1b[2~", "Delete": "\x1b[3~", "PageUp": "\x1b[5~", "PageDown": "\x1b[6~",
    "Ctrl-C": "\x03", "Ctrl-D": "\x04", "Ctrl-Z": "\x1a",
}
KEYS = {
    "xterm": {**_COMMON, "Home": "\x1b[H", "End": "\x1b[F",
              "F1": "\x1bOP", "F2": "\x1bOQ", "F3": "\x1bOR", "F4": "\x1bOS"},
    "vt220": {**_COMMON, "Home": "\x1b[1~", "End": "\x1b[4~",
              "F1": "\x1b[11~", "F2": "\x1b[12~", "F3": "\x1b[13~", "F4": "\x1b[14~"},
    "linux": {**_COMMON, "Home": "\x1b[1~", "End": "\x1b[4~",
              "F1": "\x1b[[A", "F2": "\x1b[[B", "F3": "\x1b[[C", "F4": "\x1b[[D"},
}


def key_bytes(key: str, terminal: str = "xterm") -> bytes:
    """The bytes `key` sends on `terminal`; a single character stands for itself."""
    keys = KEYS[terminal]
    if key in keys:
        return keys[key].encode()
    if len(key) == 1:
        return key.encode()
    raise KeyError(f"no key {key!r}: one of {', '.join(keys)} or a single character")


# CSI (with private markers), charset selection, keypad modes, OSC strings, other two-byte
# escapes; then the C0 controls that move nothing a reader of the text needs.
_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]"
                     r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1bO[@-~]|\x1b[=>78cDEHMNZ]"
                     r"|[\x00-\x08\x0b-\x1f\x7f]")
# An escape that may be the start of a sequence whose end has not arrived yet.
_UNFINISHED = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|[()O]|\][^\x07\x1b]*\x1b?)?\Z")


class Transcript:
    """Everything the guest wrote, as text without escape sequences or carriage returns, with a
    read position: each search starts after the previous match, as `expect` does."""

    def __init__(self) -> None:
        self.text = ""
        self.closed = False
        self._position = 0
        self._previous = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, chunk: bytes) -> None:
        data = self._pending + self._decoder.decode(chunk)
        unfinished = _UNFINISHED.search(data)
        held = unfinished and len(data) - unfinished.start() < 64  # else it was no sequence
        cut = unfinished.start() if held else len(data)
        self._pending = data[cut:]
        self.text += _ESCAPE.sub("", data[:cut].replace("\r", ""))

    def search(self, pattern: re.Pattern) -> re.Match | None:
        match = pattern.search(self.text, self._position)
        if match:
            self._previous, self._position = self._position, match.end()
        return match

    def before(self, match: re.Match) -> str:
        """The text between the match before this one and this one."""
        return self.text[self._previous:match.start()]


class VirtualScreen:
    """The screen a terminal of this size shows for the guest's output."""

    def __init__(self, columns: int = 80, lines: int = 24) -> None:
        self._screen = pyte.Screen(columns, lines)
        self._stream = pyte.ByteStream(self._screen)

    def feed(self, chunk: bytes) -> None:
        self._stream.feed(chunk)

    def text(self) -> str:
        """The screen's lines, trailing blanks removed."""
        return "\n".join(line.rstrip() for line in self._screen.display)

    @property
    def cursor(self) -> tuple[int, int]:
        """(column, line) of the cursor, from 0."""
        return self._screen.cursor.x, self._screen.cursor.y
