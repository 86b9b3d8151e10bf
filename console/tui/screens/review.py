"""Review: what will be done, as text; the operator confirms a restore by typing the target's
name, a comparison (which writes nothing) with Enter.

Nothing is written before the name is typed. A restore's text is its plan rendered by the core
(console.core.planning.plan.render): the targets by model, serial and size, the layouts, every step.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Input, Static

from ...core.planning.plan import render
from ..job import Job, JobKind
from .common import KeyFooter, TitleBar, TypedInput


def confirmation_matches(typed: str, names: list[str]) -> bool:
    """The names typed, in any order, separated by spaces; nothing more, nothing less."""
    return sorted(typed.split()) == sorted(names)


class ReviewScreen(Screen):
    """The plan as text and the confirmation."""

    HELP = ("This is exactly what will be done. Read it; scroll with PgUp/PgDn. To start a "
            "restore, type the name of the target disk as shown and press Enter; a comparison "
            "writes nothing and starts with Enter. Esc goes back; nothing has been written.")

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("enter", "compare", "Compare"),
        Binding("pageup", "scroll(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll(1)", "Scroll down", show=False),
    ]

    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job

    def compose(self) -> ComposeResult:
        job = self.job
        restoring = job.kind == JobKind.RESTORE
        yield TitleBar("Review: what will be done" if restoring else
                       "Review: what will be compared")
        with VerticalScroll(id="review"):
            yield Static(self._text(), id="review-text", markup=False)
        names = job.target_names()
        what = "the name of the target" if len(names) == 1 else "the names of the targets"
        if restoring:
            yield Static(f"To overwrite {job.targets_text()}, type {what} and press Enter: "
                         f"{' '.join(names)}", id="prompt")
            # the app makes its cursor steady when it is focused
            yield TypedInput(placeholder=" ".join(names), id="confirm")
        else:
            yield Static("Press Enter to compare; Esc goes back.", id="prompt")
        yield Static("Nothing has been written.", id="status")
        yield KeyFooter()

    def _text(self) -> str:
        job = self.job
        if job.kind != JobKind.RESTORE:
            lines = [f"Compare the backup of {job.backup_set.host} ({job.backup_set.medium.where})",
                     "with what is on these disks, mounted read-only:", ""]
            for src, target in job.mapping.items():
                lines.append(f"  original {src}")
                lines.append(f"    on {job.titles.get(target, target)}")
            lines += ["", "Every file, directory and link is compared: kind, owner, mode, "
                      "times, content (BLAKE3).", "Nothing is written."]
            return "\n".join(lines)
        return render(job.plan)

    def on_mount(self) -> None:
        if self.job.kind == JobKind.RESTORE:
            self.query_one("#confirm", Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Enter starts a comparison only; a restore starts from the typed name.
        return action != "compare" or self.job.kind != JobKind.RESTORE

    def on_input_submitted(self, event: Input.Submitted) -> None:
        names = self.job.target_names()
        status = self.query_one("#status", Static)
        if not confirmation_matches(event.value, names):
            status.update(f"That is not {' '.join(names)}. Nothing has been written; "
                          "type the name exactly, or Esc to go back.")
            event.input.value = ""
            return
        self._start()

    def action_compare(self) -> None:
        self._start()

    def _start(self) -> None:
        from .progress import ProgressScreen
        app = self.app
        app.back_to_start()
        app.push_screen(ProgressScreen(self.job))

    def action_scroll(self, direction: int) -> None:
        review = self.query_one("#review", VerticalScroll)
        if direction < 0:
            review.scroll_page_up()
        else:
            review.scroll_page_down()

    def action_back(self) -> None:
        self.app.pop_screen()
