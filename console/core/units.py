"""How a person reads sizes, rates, durations and counts: one way everywhere.

Sizes are in IEC binary units (KiB, MiB, GiB), as the kernel, parted and lsblk count them, so
a number on the console matches what the operator sees in the shell. Counts say "1 entry",
never "1 entries".
"""

from __future__ import annotations

from datetime import datetime, timedelta

import humanize


def size(n: int | float) -> str:
    """256.0 MiB"""
    return humanize.naturalsize(n, binary=True)


def whole_size(n: int | float) -> str:
    """256 MiB: for narrow places, where the tenth does not fit."""
    return humanize.naturalsize(n, binary=True, format="%.0f")


def exact_size(n: int, note: str = "") -> str:
    """256.0 MiB (268,435,456 bytes): where two sizes that look equal must be told apart, and
    where the operator checks a size against a tool's; a note goes inside the brackets."""
    return f"{size(n)} ({n:,} bytes{'; ' + note if note else ''})"


def rate(bytes_per_second: float) -> str:
    """12.5 MiB/s"""
    return f"{size(bytes_per_second)}/s"


def duration(seconds: float) -> str:
    """How long something took, to the second: 1 minute and 5 seconds; under a second."""
    if seconds < 1:
        return "under a second"
    return humanize.precisedelta(int(seconds))


def about(seconds: float) -> str:
    """How long something will still take, rounded as a person says it: 5 minutes."""
    return humanize.naturaldelta(seconds)


def ago(delta: timedelta) -> str:
    """How long ago, as a person says it: 3 hours ago."""
    return humanize.naturaltime(delta)


def day(moment: datetime) -> str:
    """A day as a person says it: today, Sep 13 2020."""
    return humanize.naturaldate(moment)


def number(n: int) -> str:
    """1,234,567"""
    return humanize.intcomma(n)


def count(n: int, noun: str, plural: str = "") -> str:
    """1 entry, 2 entries, 1,234 files: the noun agrees with the number."""
    return f"{number(n)} {noun if n == 1 else plural or _plural(noun)}"


def entries_and_data(entries: int, file_bytes: int) -> str:
    """214 entries (1.4 MiB of file data): what a selection or a restore holds, said the same
    way everywhere. Entries are everything an archive holds (files, directories, links,
    devices); the bytes are the content of its regular files, never the archive's own size."""
    return f"{count(entries, 'entry')} ({size(file_bytes)} of file data)"


def _plural(noun: str) -> str:
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith(("s", "sh", "ch", "x")):
        return noun + "es"
    return noun + "s"
