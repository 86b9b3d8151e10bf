"""The question before selected files are restored over files already there: how many, their
size, the first few paths, and what to do with them (overwrite, skip, keep newer)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static

from ...core.applying.existing import Existing
from ...core.units import count, size
from .common import option

BACK = "back"


def policy_choices(existing: Existing) -> list[tuple[str, str, str]]:
    """(policy, key, words) of each choice, with what it replaces."""
    newer_replaced = existing.replaced("newer")[0]
    return [("overwrite", "o", f"Overwrite: replace {count(existing.entries, 'file')} with "
                               "the set's copy"),
            ("skip", "s", "Skip: leave every existing file as it is"),
            ("newer", "k", f"Keep newer: replace {count(newer_replaced, 'file')} older than "
                           "the set's copy")]


class ExistingFilesScreen(ModalScreen[str | None]):
    """Dismisses with the policy chosen, or None: back to the picker, nothing written."""

    HELP = ("Files are already where the selection goes. Choose what to do with them with the "
            "letter shown (or the arrow keys and Enter); Esc goes back to the picker and "
            "writes nothing.")

    BINDINGS = [Binding("escape", "back", "Back", show=False)]

    def __init__(self, existing: Existing, where: str, policy: str) -> None:
        """`where`: the destination in words; `policy`: the one chosen in the picker, offered
        first."""
        super().__init__()
        self.existing = existing
        self.where = where
        self.policy = policy
        self.choices = policy_choices(existing)
        self.keys = {key: policy for policy, key, _words in self.choices} | {"b": BACK}

    def compose(self) -> ComposeResult:
        found = self.existing
        more = found.entries - len(found.paths)
        lines = [f"{count(found.entries, 'file')} ({size(found.bytes)}) "
                 f"{'is' if found.entries == 1 else 'are'} already where the selection goes, "
                 f"in {self.where}:",
                 *(f"  {path}" for path in found.paths)]
        if more > 0:
            lines.append(f"  and {more} more")
        if found.newer:
            lines.append(f"{count(found.newer, 'of them is', 'of them are')} newer than the "
                         "set's copy.")
        if found.locked:
            lines.append(found.locked_words().strip())
        with Vertical(classes="dialog"):
            yield Static("Replace files that are already there?", classes="dialog-title")
            yield Static("\n".join(lines), classes="message", markup=False)
            yield OptionList(*(option(f"[{key}] {words}", id=policy)
                               for policy, key, words in self.choices),
                             option("[b] Back to the picker: nothing is written", id=BACK),
                             classes="choices")

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        choices.highlighted = choices.get_option_index(self.policy)
        choices.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._answer(event.option.id)

    def on_key(self, event) -> None:
        if event.key in self.keys:
            event.stop()
            self._answer(self.keys[event.key])

    def action_back(self) -> None:
        self.dismiss(None)

    def _answer(self, choice: str | None) -> None:
        self.dismiss(None if choice == BACK else choice)
