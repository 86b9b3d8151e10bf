"""Questions from core to whoever drives it, and the answers the core waits for.

A Question travels through the listener like progress does. Whoever drives the core answers it,
in the listener call itself (the command line asks on its terminal) or later from another
thread (the TUI answers on its UI thread while the core waits in the worker thread): then it
claims the question first. A question nobody claims gets its default answer, the safe one; so a
core driven without a listener (tests, library calls) behaves as before questions existed.

A passphrase is an answer like any other, but is never logged, never shown in the question's
repr or str, and is not kept in the question once the core has taken it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, TypeVar

from .errors import RestoreError

# An event of events.Event, of which a Question is one kind (events.py imports this module).
E = TypeVar("E")

log = logging.getLogger("restore_console")



class QuestionKind(Enum):
    """What is asked."""

    INSERT_VOLUME = "insert-volume"  # insert volume N of set S: retry (it is in) or abort
    PASSPHRASE = "passphrase"  # the passphrase of a LUKS container: secret text
    STEP_FAILED = "step-failed"  # a step of the plan failed: retry, skip or abort


# The answers the core acts on. "shell" is never one: the driver opens the expert shell and
# asks the same question again.
RETRY, SKIP, ABORT, CONTINUE = "retry", "skip", "abort", "continue"


@dataclass(eq=False)
class Question:
    """One question. `title` names it (the same question asked again has the same title);
    `choices` are the answers the core accepts, `default` the safe one (None: there is none, as
    for a passphrase). `shell`: the driver may offer the expert shell before answering."""

    kind: QuestionKind
    title: str
    text: str
    hint: str = ""
    choices: tuple[str, ...] = ()
    default: str | None = None
    secret: bool = False
    shell: bool = False
    # INSERT_VOLUME: the volume asked for, how many the set has (0: not known), its label
    volume: int = 0
    volumes: int = 0
    label: str = ""
    _answered: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _claimed: bool = field(default=False, init=False, repr=False)
    _answer: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.default is not None and self.default not in self.choices:
            raise ValueError(f"the default {self.default!r} is not among {self.choices}")

    def __str__(self) -> str:
        return f"{self.title}: {self.text}"

    @property
    def answered(self) -> bool:
        return self._answered.is_set()

    @property
    def claimed(self) -> bool:
        return self._claimed

    def claim(self) -> None:
        """Says that an answer will come later, from another thread."""
        self._claimed = True

    def answer(self, value: str | None) -> None:
        """Answers, from any thread. None: no answer (the operator declined); the core then
        takes the default, or stops when there is none. The first answer counts."""
        if value is not None and not self.secret and value not in self.choices:
            raise ValueError(f"{value!r} is not an answer to {self.title!r}: {self.choices}")
        if self._answered.is_set():
            return
        self._answer = value
        self._answered.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Waits for the answer; False when timeout seconds passed without one."""
        return self._answered.wait(timeout)

    def take(self) -> str | None:
        """The answer, removed from the question (a passphrase is not kept here)."""
        value, self._answer = self._answer, None
        return value


Answerer = Callable[[Question], None]


def ask(listener: Callable[[Question], None], question: Question,
        timeout: float | None = None) -> str:
    """Sends question through listener and waits for its answer; returns it.

    Not claimed nor answered by the listener: the default. Claimed and not answered within
    timeout seconds (None: wait as long as it takes), or declined without a default: a
    RestoreError that says what was asked."""
    log.info("asked: %s (%s)", question, ", ".join(question.choices) or "text")
    listener(question)
    if not question.answered and not question.claimed:
        question.answer(None)
    if not question.wait(timeout):
        raise RestoreError(f"Nobody answered within {timeout:g} seconds: {question}",
                           _how_to_answer(question))
    value = question.take()
    if value is None:
        value = question.default
        if value is None:
            raise RestoreError(f"Not answered: {question}", _how_to_answer(question))
    log.info("answered %s: %s", question.title, "(secret, not logged)" if question.secret
             else value)
    return value


def _how_to_answer(question: Question) -> str:
    if question.secret:
        return "Run it again where it can ask on a terminal or on the console."
    return f"Answer with one of: {', '.join(question.choices)}."


def step_failed(number: int, total: int, step: str, error: RestoreError,
                skipping: str | None) -> Question:
    """Step `number` of `total` failed: retry, skip (only when `skipping` says what skipping
    leaves undone) or abort (the default: the error stands)."""
    if skipping:
        choices = (RETRY, SKIP, ABORT)
        options = f"Retry it, skip it ({skipping}), open a shell, or abort the restore."
    else:
        choices = (RETRY, ABORT)
        options = ("Retry it, open a shell, or abort the restore (later steps need this one: "
                   "it cannot be skipped).")
    return Question(QuestionKind.STEP_FAILED, f"Step {number} of {total} failed",
                    f"{step}: {error.message} {options}", error.hint, choices, ABORT,
                    shell=True)


def passphrase(container: str) -> Question:
    return Question(QuestionKind.PASSPHRASE, f"Passphrase for the LUKS container {container}",
                    f"Type the passphrase of the LUKS container {container}.", secret=True)


def insert_volume(number: int, set_id: str, where: str, found: str = "",
                  hint: str = "", *, label: str = "", volumes: int = 0) -> Question:
    """`found`: what is in `where` now and why it is not the one, said before the request.
    `label`: what is written on the volume (web1-4f1c2a3b-2); `volumes`: how many the set has.
    Retry: the volume is in now, look again; abort (the default): give up."""
    about = ", ".join(filter(None, [f"labelled {label}" if label else "",
                                    f"of {volumes} volumes" if volumes else ""]))
    return Question(QuestionKind.INSERT_VOLUME, f"Insert volume {number} of set {set_id}",
                    (f"{found} " if found else "")
                    + f"Insert volume {number} of the set {set_id}"
                    + (f" ({about})" if about else "") + f" into {where}, then retry.",
                    hint, choices=(RETRY, ABORT), default=ABORT, volume=number, volumes=volumes,
                    label=label)


def answering(listener: Callable[[E], None], answerer: Answerer) -> Callable[[E], None]:
    """A listener that passes every event on to listener, and then has answerer answer the
    questions."""

    def listen(event: E) -> None:
        listener(event)
        if isinstance(event, Question) and not event.answered:
            answerer(event)

    return listen


class PolicyAnswerer:
    """Answers by policy, for nuke mode and the command line without a terminal.

    `answers`: the answer for each kind of question (given only where it is a choice: else the
    question's default). A question asked again (same title) after a retry is answered retry
    at most `retries` times. A question without a policy goes to `fallback` when there is one;
    otherwise it is left `timeout` seconds for someone else to answer, then the answerer gives
    up with a RestoreError saying what was asked and, from `hints` by kind, how to answer."""

    def __init__(self, answers: dict[QuestionKind, str], *, timeout: float = 0.0, retries: int = 3,
                 hints: dict[QuestionKind, str] | None = None, fallback: Answerer | None = None,
                 say: Callable[[str], None] = lambda text: None, why: str = "by policy"):
        self.answers = dict(answers)
        self.timeout = timeout
        self.retries = retries
        self.hints = dict(hints or {})
        self.fallback = fallback
        self.say = say
        self.why = why
        self.retried: dict[str, int] = {}

    def __call__(self, question: Question) -> None:
        value = self.answers.get(question.kind)
        if value is None:
            if self.fallback is not None:
                self.fallback(question)
                return
            self._give_up(question)
            return
        if value not in question.choices:
            value = question.default
        if value == RETRY:
            count = self.retried.get(question.title, 0)
            if count >= self.retries:
                raise RestoreError(
                    f"{question} Retried {count} times {self.why}; gave up.",
                    self._hint(question))
            self.retried[question.title] = count + 1
        if value != question.default:
            self.say(f"{question} Answered {value} ({self.why}).")
        question.answer(value)

    def _give_up(self, question: Question) -> None:
        question.claim()
        started = time.monotonic()
        if self.timeout > 0 and question.wait(self.timeout):
            return
        waited = time.monotonic() - started
        after = f" after waiting {waited:.0f} seconds" if self.timeout > 0 else ""
        raise RestoreError(f"Asked, with nobody to answer{after}: {question}",
                           self._hint(question))

    def _hint(self, question: Question) -> str:
        return self.hints.get(question.kind) or _how_to_answer(question)


class VolumeWaiter:
    """Answers "insert volume N" unattended (nuke mode): looks again every `poll` seconds
    (answering retry: the core reads the drive again, refusing a wrong volume in words and
    ejecting it) until the right one is in, or `seconds` have passed since the volume was
    first asked for; then a RestoreError says which volume was missing. Another question
    goes to `otherwise`, or stops in words."""

    def __init__(self, seconds: float, *, poll: float = 3.0, otherwise: Answerer | None = None,
                 say: Callable[[str], None] = lambda text: None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, hint: str = ""):
        self.seconds, self.poll, self.otherwise, self.say = seconds, poll, otherwise, say
        self.clock, self.sleep, self.hint = clock, sleep, hint
        self.first_asked: dict[str, float] = {}

    def __call__(self, question: Question) -> None:
        if question.kind is not QuestionKind.INSERT_VOLUME:
            if self.otherwise is None:
                raise RestoreError(f"Asked, with nobody to answer: {question}",
                                   _how_to_answer(question))
            self.otherwise(question)
            return
        now = self.clock()
        first = self.first_asked.setdefault(question.title, now)
        waited = now - first
        if waited == 0:
            self.say(f"{question} Waiting up to {self.seconds:g} seconds for it.")
        if waited >= self.seconds:
            raise RestoreError(
                f"Volume {question.volume} of the set was not inserted within "
                f"{self.seconds:g} seconds: {question.text.removesuffix(', then retry.')}.",
                self.hint or "Insert it sooner, or run the restore where someone can answer.")
        self.sleep(min(self.poll, self.seconds - waited))
        question.answer(RETRY)
