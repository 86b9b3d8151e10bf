"""The core asks for a volume of the set (the next disc or tape): which one, by number and
label, what is in the drive now and why it is not the one; retry once it is in, or abort."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static

from ...core.questions import ABORT, RETRY, Question
from .common import option

CHOICES = {RETRY: ("r", "Retry: the volume is in"), ABORT: ("a", "Abort the restore")}


class VolumeScreen(ModalScreen[str]):
    """Dismisses with retry or abort. No Esc: a restore is not given up by a stray key."""

    HELP = ("Put the volume asked for into the drive (the label is written on it), then "
            "choose Retry: it is read again, and a wrong one is refused and asked for again. "
            "Abort stops the restore.")

    def __init__(self, question: Question) -> None:
        super().__init__()
        self.question = question
        self.keys = {CHOICES[c][0]: c for c in question.choices if c in CHOICES}

    def compose(self) -> ComposeResult:
        question = self.question
        of = f" of {question.volumes}" if question.volumes else ""
        with Vertical(classes="dialog volume"):
            yield Static(f"Insert volume {question.volume}{of}", classes="dialog-title",
                         markup=False, id="volume-number")
            if question.label:
                yield Static(f"Label: {question.label}", id="volume-label", markup=False)
            yield Static(question.text, classes="message", markup=False)
            if question.hint:
                yield Static(question.hint, classes="hint", markup=False)
            yield OptionList(*(option(f"[{CHOICES[c][0]}] {CHOICES[c][1]}", id=c)
                               for c in question.choices if c in CHOICES), classes="choices")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def on_key(self, event) -> None:
        if event.key in self.keys:
            event.stop()
            self.dismiss(self.keys[event.key])
