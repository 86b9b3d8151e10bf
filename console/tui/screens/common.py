"""Small pieces the screens share: the title bar, the footer, sizes, disk titles, a field whose
Enter takes what was typed before it."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer, Input, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from ...core.layout import Disk
from ...core.units import size

if TYPE_CHECKING:  # discovery brings pyudev: the first screen paints without it
    from ...core.disks.discovery import TargetDisk

log = logging.getLogger("restore_console")


def disk_title(disk: Disk, *, full: bool = False) -> str:
    """'Disk source-disk.img: 256 MiB, GPT, 4 partitions, model ...'; full: the disk's whole
    name ('disk /var/tmp/.../source-disk.img: ...') and its serial."""
    table = "GPT" if disk.table == "gpt" else "MBR"
    name = disk.name if full else os.path.basename(disk.name) or disk.name
    parts = [f"{'disk' if full else 'Disk'} {name}: {size(disk.size)}", table,
             f"{len(disk.partitions)} partition{'' if len(disk.partitions) == 1 else 's'}"]
    if disk.model:
        parts.append(disk.model)
    if full and disk.serial:
        parts.append(f"serial {disk.serial}")
    return ", ".join(parts)


def short_name(name: str) -> str:
    """A disk as a row has room for it: "sda" for /dev/sda, the file's name for an image
    ("source-disk.img"); the whole path goes in a detail line."""
    return os.path.basename(name.rstrip("/")) or name


def target_label(target: TargetDisk) -> str:
    """A disk of this machine in one short line: "sda: 40.0 GiB QEMU HARDDISK", "target.img:
    256.0 MiB" (TargetDisk.title() adds the serial, the path, that it is an image file)."""
    what = target.model or ("loop device" if target.backing_file else "")
    return f"{target.name}: {size(target.size)}" + (f" {what}" if what else "")


def option(prompt: str | Text, id: str | None = None, *, disabled: bool = False) -> Option:
    """An OptionList entry shown as written: "[w] Whole machine" is no markup here."""
    return Option(Text(prompt) if isinstance(prompt, str) else prompt, id=id, disabled=disabled)


def target_prompt(title: str, chosen: bool, problems: list[str]) -> Text:
    """A disk of this machine as a choice: (*) when chosen, then what stands against it, one
    indented line each (a disk with problems is shown but not selectable)."""
    prompt = Text(f"{'(*)' if chosen else '( )'} {title}")
    for problem in problems:
        prompt.append(f"\n      {problem}", style="italic")
    return prompt


class TitleBar(Static):
    """One line at the top: where the operator is."""

    DEFAULT_CSS = """
    TitleBar {
        dock: top;
        height: 1;
        background: $panel;
        color: $text;
        text-style: bold;
        padding: 0 1;
    }
    """


class StatusLine(Static):
    """A line that says what just happened; it takes no room while it has nothing to say."""

    def __init__(self, *, id: str) -> None:
        super().__init__("", id=id, classes="-empty", markup=False)

    def say(self, text: str) -> None:
        self.update(text)
        self.set_class(not text, "-empty")


class TypedInput(Input):
    """An Input whose Enter submits what was typed before it.

    Input submits through a binding, which runs only after the key has gone up to the app and
    back: keys that came in the same burst (a paste, fast typing, a serial line) are in the
    field by then. Here Enter is taken in turn with the other keys."""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            await self.action_submit()
            return
        await super()._on_key(event)


class KeyFooter(Footer):
    """The keys of the screen, compact, the console's own first (F1 Help, F2 Shell, F3 Log) so
    that a narrow terminal cuts a screen's lesser keys, never F1. Ctrl-P is said in the help,
    not here: the footer has no room for it at 80 columns."""

    def __init__(self) -> None:
        super().__init__(compact=True, show_command_palette=False)

    DEFAULT_CSS = """
    KeyFooter { padding: 0 0 0 1; }
    """
    FIRST = ("f1", "f2", "f3")

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        # sorted() keeps the order of equals: the screen's keys stay in their order after these
        yield from sorted(keys, key=lambda widget: self._place(getattr(widget, "key", "")))

    def _place(self, key: str) -> int:
        return self.FIRST.index(key) if key in self.FIRST else len(self.FIRST)


def relay_monitor_events(app, monitor, handler, poll_seconds: float) -> None:
    """In a worker thread: each event of a pyudev monitor handed to handler on the UI thread,
    until the worker is cancelled or the monitor fails (said in the log)."""
    worker = get_current_worker()
    while not worker.is_cancelled:
        try:
            device = monitor.poll(timeout=poll_seconds)
        except OSError as exc:
            log.warning("hot-plug monitor failed: %s", exc)
            return
        if device is not None and not worker.is_cancelled:
            app.call_from_thread(handler, device)
