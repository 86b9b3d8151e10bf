"""F1: the keys of the screen underneath, and what that screen is for."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """Closes with Esc, F1 or q."""

    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, screen: Screen, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.about = getattr(screen, "HELP", "") or ""
        self.keys = keys

    def compose(self) -> ComposeResult:
        width = max((len(key) for key, _ in self.keys), default=1)
        lines = [f"  {key:<{width}}  {description}" for key, description in self.keys]
        with Vertical(classes="dialog help"):
            yield Static("Help", classes="dialog-title")
            with VerticalScroll():
                if self.about:
                    yield Static(self.about, classes="about", markup=False)
                yield Static("Keys on this screen:\n" + "\n".join(lines), id="keys",
                             markup=False)
                yield Static("In lists: arrow keys, PgUp/PgDn and Home/End move, Enter chooses. "
                             "Tab goes to the next list or field.", classes="about")
            yield Static("Esc closes this help.", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
