"""An error in words, with the choices that make sense (retry, skip, shell, abort ...)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static

from .common import option

# What the error dialog can offer, in the order it offers them.
CHOICES = {"retry": ("r", "Retry"),
           "skip": ("k", "Skip this step and go on"),
           "shell": ("s", "Open a shell, then come back to this question"),
           "abort": ("a", "Abort: back to the start"),
           "shell-here": ("s", "Open the shell here instead"),
           "close": ("c", "Close")}


class ErrorScreen(ModalScreen[str]):
    """Dismisses with the id of the choice made; Esc is the last choice."""

    HELP = "Choose what to do with the arrow keys and Enter, or with the letter shown."

    BINDINGS = [Binding("escape", "last", "Close", show=False)]

    def __init__(self, title: str, message: str, hint: str,
                 choices: list[tuple[str, str, str]]) -> None:
        """choices: (id, key, words)."""
        super().__init__()
        self.title_text = title
        self.message = message
        self.hint = hint
        self.choices = choices
        self.keys = {key: choice_id for choice_id, key, _words in choices}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.message, classes="message", markup=False)
            if self.hint:
                yield Static(self.hint, classes="hint", markup=False)
            yield OptionList(*(option(f"[{key}] {words}", id=choice_id)
                               for choice_id, key, words in self.choices), classes="choices")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def on_key(self, event) -> None:
        if event.key in self.keys:
            event.stop()
            self.dismiss(self.keys[event.key])

    def action_last(self) -> None:
        self.dismiss(self.choices[-1][0])
