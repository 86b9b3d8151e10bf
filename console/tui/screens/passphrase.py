"""A passphrase the core asks for (a LUKS container), typed without being shown."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from widgets.fields import SecretInput


class PassphraseScreen(ModalScreen[str | None]):
    """Dismisses with what was typed (Enter), or None (Esc: not given)."""

    HELP = "Type the passphrase and press Enter; it is not shown. Esc does not give it."

    BINDINGS = [Binding("escape", "give_up", "Don't give it", show=False)]

    def __init__(self, title: str, message: str, hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.message, classes="message", markup=False)
            if self.hint:
                yield Static(self.hint, classes="hint", markup=False)
            yield SecretInput(id="passphrase")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value
        event.input.value = ""  # not kept in the widget once given
        self.dismiss(value or None)

    def action_give_up(self) -> None:
        self.dismiss(None)
