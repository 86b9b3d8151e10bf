"""The start screen's list of the backup sets found on this machine's media, when the console
started without --set: each with what it is (host, date, size, volume) and where (a disc, a
tape, a partition, a share). The only one found is opened at once; another is opened with
Enter. Disks plugged in and discs put in appear (a pyudev monitor, where there is one); `r`
looks again (a tape loaded into its drive sends no event)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.worker import Worker, WorkerState

from .common import option, relay_monitor_events

if TYPE_CHECKING:
    from ...core.backupset.found import FoundSet

log = logging.getLogger("restore_console")

POLL_SECONDS = 0.5
# udev probes a disk's partitions after the disk's own event: the search waits this long after
# the last event before looking again.
SETTLE_SECONDS = 1.5


def found_prompt(found: FoundSet) -> str:
    """'web1, made 2026-01-02T03:04:05+00:00, 3.1 GiB, volume 1 of 3' over '  on CD/DVD drive
    /dev/sr0'."""
    return f"{found.words()}\n  set {found.set_id[:8]} on {found.media}"


class FoundSets(Vertical):
    """The sets found; looks when mounted, again on `r` (the start screen's key) and after a
    disk or disc event."""

    def __init__(self) -> None:
        super().__init__(id="found-sets")
        self.found: list[FoundSet] = []
        self.searches = 0  # finished searches (tests wait for them)
        self._settle = None

    def compose(self) -> ComposeResult:
        yield Static("Looking for backup sets on discs, tapes, disks and shares ...",
                     id="found-state", markup=False)
        yield OptionList(id="found")
        yield Static("Enter opens the set; r looks again (disks and discs put in are looked "
                     "at by themselves).", classes="hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#found", OptionList).display = False
        self.search()
        monitor = self.app.core.block_monitor()
        if monitor is not None:
            self.watch_media(monitor)

    # ---- searching, in a worker thread ----

    def search(self) -> None:
        self.query_one("#found-state", Static).update(
            "Looking for backup sets on discs, tapes, disks and shares ...")
        self._search()

    @work(thread=True, exclusive=True, group="find-sets", exit_on_error=False, name="find-sets")
    def _search(self) -> list:
        return self.app.core.find_sets()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.name == "find-sets":
            if event.state == WorkerState.SUCCESS:
                self.searches += 1
                self.show(worker.result, first=self.searches == 1)
            elif event.state == WorkerState.ERROR:
                self.searches += 1
                log.error("finding sets failed", exc_info=worker.error)
                self.query_one("#found-state", Static).update(
                    f"Looking for sets failed: {worker.error}. Start with --set PATH, or press "
                    "r to look again.")
        elif worker.name == "open-set":
            if event.state == WorkerState.SUCCESS:
                self.screen.set_opened(*worker.result)
            elif event.state == WorkerState.ERROR:
                error = worker.error
                words = getattr(error, "message", None) or str(error)
                hint = getattr(error, "hint", "") or ""
                log.error("opening the set found failed", exc_info=error)
                self.query_one("#found-state", Static).update(
                    f"That set cannot be opened: {words} {hint}".strip())

    def show(self, found: list, *, first: bool) -> None:
        self.found = list(found)
        state = self.query_one("#found-state", Static)
        options = self.query_one("#found", OptionList)
        options.clear_options()
        if not found:
            options.display = False
            state.update("No backup set found on the discs, tapes, disks and shares of this "
                         "machine. Put the media in (r looks again), or start with --set PATH.")
            return
        # Only the first search opens a lone set: one that appears later is listed, not
        # opened behind the operator's back.
        opens = len(found) == 1 and first
        if len(found) > 1:
            state.update(f"Backup sets found: {len(found)}. Choose one with the arrow keys and "
                         "Enter.")
        else:
            state.update("One backup set found: opening it." if opens else
                         "One backup set found: Enter opens it.")
        options.add_options([option(found_prompt(f), id=str(i)) for i, f in enumerate(found)])
        options.display = True
        options.highlighted = 0
        self.call_after_refresh(options.focus)  # once it is shown: a hidden list takes no focus
        if opens:
            self.open(found[0])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id != "found":
            return
        event.stop()
        self.open(self.found[int(event.option.id)])

    def open(self, found: FoundSet) -> None:
        self.query_one("#found-state", Static).update(f"Opening the set on {found.media} ...")
        self._open(found)

    @work(thread=True, exclusive=True, group="open-set", exit_on_error=False, name="open-set")
    def _open(self, found: FoundSet):
        core = self.app.core
        path = core.open_found(found)
        return path, core.load_set(path)

    # ---- hot-plug ----

    @work(thread=True, exclusive=True, group="media-plug", exit_on_error=False)
    def watch_media(self, monitor) -> None:
        relay_monitor_events(self.app, monitor, self.media_changed, POLL_SECONDS)

    def media_changed(self, device) -> None:
        """A disk came, went, or a disc was put in: the search again once things settle."""
        log.info("hot-plug: %s %s", getattr(device, "sys_name", "a disk"),
                 getattr(device, "action", "changed"))
        if self._settle is not None:
            self._settle.stop()
        self._settle = self.set_timer(SETTLE_SECONDS, self.search)
