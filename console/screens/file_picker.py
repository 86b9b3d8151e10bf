"""Screen "Restore selected files": pick files in the catalog, say where they go and what to do
with files already there; dismisses with a RestoreChoice (or None when cancelled).

The screen holds no restore logic: the trees and selections are console.core.filetree's
SetTrees, and the caller runs console.core.partial.restore_selection with the choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import humanize
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from console.core.filetree import SetTrees
from console.core.partial import EXISTING_POLICIES
from console.core.selection import Selection
from widgets.file_tree import FileTree, FileTreePanel, size_text

POLICY_LABELS = {"overwrite": "Existing: overwrite", "skip": "Existing: leave",
                 "newer": "Existing: keep newer"}
assert set(POLICY_LABELS) == set(EXISTING_POLICIES)


@dataclass
class RestoreChoice:
    """What the operator chose: the selections (one per filesystem), the directory standing
    for the machine's root (files go to DIR + their original path), and the policy for
    existing files."""

    selections: list[Selection]
    destination: str
    existing: str
    in_place: bool  # destination is the restored machine's root: files go back where they were


class FilePickerScreen(Screen[RestoreChoice | None]):
    """Pick files of a set and restore them to their place or into a directory."""

    DEFAULT_CSS = """
    FilePickerScreen {
        layout: vertical;
        & .picker-row { height: 3; }
        & .picker-row Label { padding: 1 1 0 1; width: auto; }
        & #picker-filesystem { width: 1fr; }
        & #picker-destination { width: 1fr; }
        & #picker-existing { width: 27; }
        & #picker-summary { width: 1fr; padding: 1 1 0 1; color: $text-muted; }
        & #picker-buttons Button { margin: 0 0 0 1; }
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+r", "restore", "Restore"),
    ]

    def __init__(self, trees: SetTrees, *, target_root: str | None = None,
                 destination: str = "") -> None:
        """`target_root`: where the restored (or already present) machine is mounted, if any;
        files then go back to their original place under it unless another directory is
        given."""
        super().__init__()
        self.trees = trees
        self.target_root = target_root
        self._destination = destination or target_root or ""

    def compose(self) -> ComposeResult:
        options = [(f"{fs.title}  (fs-{fs.id}, {fs.device})", fs.id)
                   for fs in self.trees.filesystems]
        first = self.trees.filesystems[0].id
        with Horizontal(classes="picker-row"):
            yield Label("Restore selected files from")
            yield Select(options, value=first, allow_blank=False, id="picker-filesystem")
        yield FileTreePanel(self.trees.tree(first), id="picker-tree")
        with Horizontal(classes="picker-row"):
            yield Label("Into")
            yield Input(self._destination, id="picker-destination",
                        placeholder="a directory; files go to it + their original path")
            yield Select([(label, value) for value, label in POLICY_LABELS.items()],
                         value="overwrite", allow_blank=False, id="picker-existing",
                         prompt="Files already there")
        with Horizontal(classes="picker-row", id="picker-buttons"):
            yield Static("", id="picker-summary")
            yield Button("Restore", variant="primary", id="picker-restore")
            yield Button("Cancel", id="picker-cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(FileTree).focus()
        self._summarize()

    @on(Select.Changed, "#picker-filesystem")
    def _filesystem_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, int):
            self.query_one(FileTreePanel).set_model(self.trees.tree(event.value))
            self._summarize()

    @on(FileTree.SelectionChanged)
    def _selection_changed(self) -> None:
        self._summarize()

    def _summarize(self) -> None:
        total = self.trees.totals()
        chosen = len(self.trees.selections())
        text = (f"To restore: {humanize.intcomma(total.entries)} entries, "
                f"{size_text(total.bytes)}" + (f" from {chosen} filesystems" if chosen > 1 else ""))
        self.query_one("#picker-summary", Static).update(
            text if total.entries else "space selects, / searches")

    @on(Button.Pressed, "#picker-restore")
    def action_restore(self) -> None:
        selections = self.trees.selections()
        destination = self.query_one("#picker-destination", Input).value.strip()
        if not selections:
            self.notify("Nothing is selected: select files with space.", severity="error")
            return
        if not destination.startswith("/"):
            self.notify("Give the directory to restore into as an absolute path.",
                        severity="error")
            self.query_one("#picker-destination", Input).focus()
            return
        existing = self.query_one("#picker-existing", Select).value
        self.dismiss(RestoreChoice(selections, destination, str(existing),
                                   in_place=destination == self.target_root))

    @on(Button.Pressed, "#picker-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
