"""Screen "Restore selected files": pick files in the catalog, say where they go (back to their
original place on a disk holding the set's filesystems, or into a directory) and what to do
with files already there; dismisses with a RestoreChoice (or None when cancelled).

The set's filesystems are one tree, each at its mount point (console.core.backupset.settree's
SetTrees, which keeps a selection per filesystem). The screen holds no restore logic: the places
are console.core.applying.inplace's (found by the caller), and the caller runs restore_in_place
or restore_selection with the choice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Select, Static

from widgets.fields import DropDown
from widgets.file_tree import FileTree, FileTreePanel

from ...core.applying.existing import Existing
from ...core.applying.inplace import Place
from ...core.applying.partial import EXISTING_POLICIES
from ...core.backupset.selection import Selection
from ...core.backupset.settree import SetTrees
from ...core.units import count, size
from .common import KeyFooter, TitleBar
from .existing_files import ExistingFilesScreen

log = logging.getLogger("restore_console")

POLICY_LABELS = {"overwrite": "Existing: overwrite", "skip": "Existing: leave",
                 "newer": "Existing: keep newer"}
assert set(POLICY_LABELS) == set(EXISTING_POLICIES)
INTO_DIRECTORY = -1  # the destination choice "a directory"; places are chosen by their index


@dataclass
class RestoreChoice:
    """What the operator chose: the selections (one per filesystem), where they go, and the
    policy for existing files."""

    selections: list[Selection]
    destination: str  # the directory standing for the machine's root; "" in place
    existing: str
    place: Place | None = None  # in place: back onto the set's filesystems on these disks

    @property
    def in_place(self) -> bool:
        return self.place is not None

    def where(self) -> str:
        """Where the files go, in words: a directory, or the original place on sdb."""
        return f"the original place on {self.place.title}" if self.place else self.destination


def place_label(place: Place) -> str:
    return (f"Original place: {place.title}" + (f", {place.note}" if place.note else "")
            + (f" - {place.problems[0]}" if place.problems else ""))


class FilePickerScreen(Screen[RestoreChoice | None]):
    """Pick files of a set and restore them to their place or into a directory."""

    DEFAULT_CSS = """
    FilePickerScreen {
        layout: vertical;
        & .picker-row { height: 3; }
        & .picker-row Label { padding: 1 1 0 1; width: auto; }
        & #picker-place { width: 1fr; }
        & #picker-destination { width: 1fr; display: none; }
        & #picker-place SelectCurrent #label { text-wrap: nowrap; text-overflow: ellipsis; }
        &.-into-directory #picker-place { width: 19; }
        &.-into-directory #picker-destination { display: block; }
        & #picker-existing { width: 27; }
        & #picker-summary { width: 1fr; padding: 1 1 0 1; color: $text-muted; }
        & #picker-buttons Button { margin: 0 0 0 1; }
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+r", "restore", "Restore"),
    ]

    def __init__(self, trees: SetTrees, *, places: list[Place] | None = None,
                 destination: str = "", note: str = "",
                 find_existing: Callable[[RestoreChoice], Existing] | None = None) -> None:
        """`places`: where the files can go back to their original place (the disks holding
        the set's filesystems); without any, a directory is asked for. `destination`: the
        directory offered. `note`: a warning shown when the screen opens. `find_existing`:
        what a choice would replace (run in a thread); when it replaces anything, the
        operator is asked before the screen dismisses."""
        self.places = list(places or [])
        super().__init__(classes="" if self.places else "-into-directory")
        self.trees = trees
        self._destination = destination
        self._note = note
        self._find_existing = find_existing
        self._checking = False  # looking for files already there: Ctrl-R waits for it

    def compose(self) -> ComposeResult:
        host = self.trees.backup_set.host
        yield TitleBar(f"Restore selected files of {host}" if host else "Restore selected files")
        yield FileTreePanel(self.trees, id="picker-tree")
        with Horizontal(classes="picker-row"):
            yield Label("To")
            # Several places are a choice to make: none is taken for the operator.
            yield DropDown([*((place_label(place), n) for n, place in enumerate(self.places)),
                            ("A directory", INTO_DIRECTORY)],
                           value=self._first_choice(), allow_blank=len(self.places) > 1,
                           id="picker-place", prompt="Choose where the files go")
            yield Input(self._destination, id="picker-destination",
                        placeholder="a directory; files go to it + their original path")
            yield DropDown([(label, value) for value, label in POLICY_LABELS.items()],
                           value="overwrite", allow_blank=False, id="picker-existing",
                           prompt="Files already there")
        with Horizontal(classes="picker-row", id="picker-buttons"):
            yield Static("", id="picker-summary")
            yield Button("Restore", variant="primary", id="picker-restore")
            yield Button("Cancel", id="picker-cancel")
        yield KeyFooter()

    def _first_choice(self):
        if not self.places:
            return INTO_DIRECTORY
        return 0 if len(self.places) == 1 else Select.NULL

    def on_mount(self) -> None:
        self.query_one(FileTree).focus()
        self._summarize()
        if self._note:
            self.notify(self._note, severity="warning", timeout=20)

    @on(Select.Changed, "#picker-place")
    def _place_chosen(self, event: Select.Changed) -> None:
        # The focus stays on the choice: Tab, as everywhere, goes on to the field that
        # appeared beside it (a focus moved there unasked made Tab skip it).
        self.set_class(event.value == INTO_DIRECTORY, "-into-directory")

    @on(FileTree.SelectionChanged)
    def _selection_changed(self) -> None:
        self._summarize()

    def _summarize(self) -> None:
        total = self.trees.totals()
        chosen = len(self.trees.selections())
        # Beside the buttons: the shorter form of units.entries_and_data, the same numbers.
        text = (f"To restore: {count(total.entries, 'entry')}, {size(total.bytes)}"
                + (f" from {chosen} filesystems" if chosen > 1 else ""))
        self.query_one("#picker-summary", Static).update(
            text if total.entries else "space selects, / searches")

    @on(Button.Pressed, "#picker-restore")
    def action_restore(self) -> None:
        selections = self.trees.selections()
        if not selections:
            self.notify("Nothing is selected: select files with space.", severity="error")
            return
        existing = str(self.query_one("#picker-existing", Select).value)
        where = self.query_one("#picker-place", Select)
        chosen = where.value
        if where.is_blank():
            self.notify("Choose where the files go: several disks hold the set's "
                        "filesystems.", severity="error")
            where.focus()
            return
        if chosen != INTO_DIRECTORY:
            self._confirm(RestoreChoice(selections, "", existing, place=self.places[chosen]))
            return
        destination = self.query_one("#picker-destination", Input).value.strip()
        if not destination.startswith("/"):
            self.notify("Give the directory to restore into as an absolute path.",
                        severity="error")
            self.query_one("#picker-destination", Input).focus()
            return
        self._confirm(RestoreChoice(selections, destination, existing))

    def _confirm(self, choice: RestoreChoice) -> None:
        """Dismisses with the choice once nothing would be replaced, or the operator has said
        what to do with the files already there."""
        if self._find_existing is None:
            self.dismiss(choice)
            return
        if self._checking:
            return
        self._checking = True
        self.query_one("#picker-summary", Static).update("Looking for files already there...")
        self.run_worker(lambda: self._look(choice), thread=True, exit_on_error=False,
                        group="existing")

    def _look(self, choice: RestoreChoice) -> None:
        """In a worker thread: the core looks (a restore in place mounts read-only)."""
        try:
            found: Existing | Exception = self._find_existing(choice)
        except Exception as exc:  # said in words on the screen, the traceback in the log
            log.exception("looking for files already there")
            found = exc
        self.app.call_from_thread(self._ask, choice, found)

    def _ask(self, choice: RestoreChoice, found: Existing | Exception) -> None:
        self._checking = False
        self._summarize()
        if isinstance(found, Exception):
            self.app.show_error(found, ["close"], lambda _choice: None,
                                title="The destination could not be checked")
            return
        if not found.replaced(choice.existing)[0]:
            self.dismiss(choice)
            return

        def answered(policy: str | None) -> None:
            if policy is None:
                self.notify("Nothing was written.")
                return
            choice.existing = policy
            self.dismiss(choice)

        self.app.push_screen(ExistingFilesScreen(found, choice.where(), choice.existing),
                             answered)

    @on(Button.Pressed, "#picker-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
