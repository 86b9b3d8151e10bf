"""How a difference between a restored tree and the set is said to a person.

Each aspect names what differs and gives both sides in words, what is on the disk first, then
what the set has: "mode 0644 on disk, 0600 in the set". Times are local dates, modes octal,
sizes in IEC units; never a raw number of nanoseconds.
"""

from __future__ import annotations

from datetime import datetime

from ..units import number, size

MISSING = "missing"
CONTENT = "content differs (BLAKE3)"
EXTRA = "extra: on disk, not in the set"


def differs(aspect: str, on_disk: str, in_set: str) -> str:
    """'mode 0644 on disk, 0600 in the set'"""
    return f"{aspect} {on_disk} on disk, {in_set} in the set"


def mode(on_disk: int, in_set: int) -> str:
    return differs("mode", f"{on_disk:04o}", f"{in_set:04o}")


def owner(on_disk: tuple[int, int], in_set: tuple[int, int]) -> str:
    """Numeric user:group: the names are the restored system's, not the rescue system's."""
    return differs("owner", "%d:%d" % on_disk, "%d:%d" % in_set)


def modified(on_disk_ns: int, in_set_ns: int) -> str:
    """Local dates to the second; to the nanosecond where the seconds agree."""
    exact = on_disk_ns // 10 ** 9 == in_set_ns // 10 ** 9
    return differs("modified", moment(on_disk_ns, exact), moment(in_set_ns, exact))


def moment(ns: int, exact: bool = False) -> str:
    """2026-11-30 14:02:11 in the local time zone; with .123456789 when exact."""
    seconds, fraction = divmod(ns, 10 ** 9)
    text = datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{fraction:09d}" if exact else text


def file_size(on_disk: int, in_set: int) -> str:
    """In IEC units; in bytes where the units would read the same."""
    if size(on_disk) == size(in_set):
        return differs("size", f"{number(on_disk)} bytes", f"{number(in_set)} bytes")
    return differs("size", size(on_disk), size(in_set))


def kind(on_disk: str, in_set: str) -> str:
    """'a file on disk, a fifo in the set'"""
    return f"{_article(on_disk)} on disk, {_article(in_set)} in the set"


def more_extra(hidden: int) -> str:
    """The line after the extras listed: 'and 1,234 more extra'"""
    return f"and {number(hidden)} more extra"


def link_target(on_disk: str, in_set: str) -> str:
    return f"points to {on_disk} on disk, to {in_set} in the set"


def _article(kind_name: str) -> str:
    words = {"file": "a file", "dir": "a directory", "symlink": "a symbolic link",
             "chardev": "a character device", "blockdev": "a block device", "fifo": "a fifo",
             "other": "something else"}
    return words.get(kind_name, f"a {kind_name}")


def flags(on_disk: str, in_set: str) -> str:
    """'flags i on disk, ia in the set' (lsattr's letters, '-' for none)"""
    return differs("flags", on_disk, in_set)
