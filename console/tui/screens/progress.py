"""Progress of a restore (or a comparison): per step and overall, the current file, a log tail.

The core runs in a worker thread; its events come back through call_from_thread. Cancelling asks
first while the run goes on and its progress is shown; a yes sets the core's cancel token, and
the core stops at its next safe point (between steps, files or archive frames; a step such as
making a filesystem finishes first) and says what state the target is in. A run that ends while
the question is open withdraws it and says so. A question of the core (a step failed, a passphrase)
is answered in a dialog while the core waits in its thread; the expert shell is opened here and
the same question asked again. An error that ends the run is shown in words with the choices
that make sense: retry, skip (the comparison only), shell, abort.
"""

from __future__ import annotations

import logging
import threading

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import RichLog, Static
from textual.worker import Worker, WorkerState

from widgets.meter import Meter

from ...core.errors import Cancelled, RestoreError
from ...core.events import Event, Message, Progress, StepStarted
from ...core.questions import ABORT, Question, QuestionKind
from ..job import Job, JobKind, Phase
from ..outcome import Outcome
from ..tracking import Tracker
from .common import KeyFooter, StatusLine, TitleBar

log = logging.getLogger("restore_console")

class ProgressScreen(Screen):
    """Runs the job and shows where it stands."""

    HELP = ("The restore is running. The upper bar is the current step, the lower one the whole "
            "run. c cancels (after asking); the target is then left partly written. F2 opens a "
            "shell; the restore waits while the shell is open.")

    BINDINGS = [Binding("c", "cancel", "Cancel"), Binding("escape", "cancel", "Cancel", show=False)]

    LOG_LINES = 200

    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job
        self.cancel_requested = threading.Event()
        self.running = False
        self.outcome: Outcome | None = None
        self._quit_after = False
        self._asking = False
        self._question: Question | None = None  # the core's question being answered
        self._aborted_by_answer = False  # the operator answered abort: no second question
        self._cancel_dialog: Screen | None = None  # "Cancel the restore?" while it is open
        self.restore_bytes = self.verify_bytes = 0
        self.tracker: Tracker | None = None
        self.phase = Phase.RESTORE if job.kind in (JobKind.RESTORE, JobKind.FILES) else Phase.VERIFY

    def compose(self) -> ComposeResult:
        job = self.job
        if job.kind == JobKind.FILES:
            yield TitleBar(f"Restoring selected files of {job.backup_set.host} into "
                           f"{job.targets_text()}")
        else:
            verb = "Restoring" if job.kind == JobKind.RESTORE else "Comparing"
            yield TitleBar(f"{verb} {job.backup_set.host} "
                           f"{'onto' if job.kind == JobKind.RESTORE else 'with'} "
                           f"{job.targets_text()}")
        yield Static("", id="plan-step")
        yield Static("Starting", id="step-name")
        yield Meter(id="step-meter")
        yield Static("", id="step-figures")
        yield Static("", id="current")
        yield Static("Overall", id="overall-name")
        yield Meter(id="overall-meter")
        yield Static("", id="overall-figures")
        yield StatusLine(id="state")
        yield RichLog(max_lines=self.LOG_LINES, id="log-tail", wrap=True, markup=False,
                      min_width=20)
        yield KeyFooter()

    def on_mount(self) -> None:
        totals = self.job.totals()
        writes = self.job.kind in (JobKind.RESTORE, JobKind.FILES)
        self.restore_bytes = totals.bytes if writes else 0
        self.verify_bytes = totals.verify_bytes
        self.start()

    # ---- running ----

    def start(self, phase: Phase | None = None) -> None:
        """Starts (or, after an error, starts again) at `phase`: the restore, or only the
        comparison once the restore is done."""
        self.phase = phase or self.phase
        core = self.app.core
        total = self.verify_bytes + (self.restore_bytes if self.phase == Phase.RESTORE else 0)
        self.tracker = Tracker(total, core.clock)
        self.outcome = self.outcome or Outcome(self.job)  # the worker fills it in
        self.cancel_requested.clear()
        self._aborted_by_answer = False
        self.running = True
        self.query_one("#state", StatusLine).say("")
        self.run_worker(self._work, name="restore", thread=True, exit_on_error=False,
                        exclusive=True)

    def _work(self) -> Outcome:
        """In the worker thread: the core calls, their events posted to the screen."""
        job, core = self.job, self.app.core
        outcome = self.outcome
        outcome.error = outcome.failed_in = outcome.cancelled_in = outcome.cancelled = None
        started = core.clock()
        phase = self.phase
        try:
            if job.kind == JobKind.FILES:
                choice = job.files
                self._post(Message(f"Restoring selected files of {job.backup_set.host} into "
                                   f"{choice.where()}"))
                if choice.place is not None:
                    outcome.restored = core.restore_in_place(
                        job.backup_set, choice.selections, choice.place.mapping,
                        choice.existing, self._listener, self.cancel_requested)
                else:
                    outcome.restored = core.restore_selection(
                        job.backup_set, choice.selections, choice.destination, choice.existing,
                        self._listener, self.cancel_requested)
                outcome.seconds += core.clock() - started
                return outcome
            if phase == Phase.RESTORE:
                self._post(Message(f"Restore of {job.backup_set.host} onto {job.targets_text()} "
                                   "started"))
                outcome.restored = core.apply_plan(job.plan, self._listener,
                                                   self.cancel_requested)
                phase = Phase.VERIFY
                self.app.call_from_thread(self._enter_verify)
                if self.cancel_requested.is_set():  # the yes came as the last step ended
                    outcome.notes.append("The cancel came after the restore had finished; "
                                         "the comparison with the set was not made.")
                    raise Cancelled("The comparison was cancelled.")
                self._post(Message("Restore done; comparing the restored system with the set"))
            outcome.verified = core.verify_targets(job.set_path, job.mapping, self._listener)
        except Cancelled as exc:
            outcome.cancelled_in, outcome.cancelled = phase, exc
        except RestoreError as exc:
            outcome.error, outcome.failed_in = exc, phase
        outcome.seconds += core.clock() - started
        return outcome

    def _enter_verify(self) -> None:
        self.phase = Phase.VERIFY
        if self.tracker is not None:
            self.tracker.finish_step()
        if self._withdraw_cancel_question():
            self.query_one("#state", StatusLine).say(
                "The restore finished before the cancel was answered: the question is "
                "withdrawn. The comparison with the set is running; c cancels it.")
            self.outcome.notes.append("The restore had already finished when the cancel was "
                                      "asked: the question was withdrawn.")

    def _run_word(self) -> str:
        return "comparison" if self.phase == Phase.VERIFY else "restore"

    def _withdraw_cancel_question(self) -> bool:
        """Closes the cancel question, moot once what it would cancel has ended."""
        dialog, self._cancel_dialog = self._cancel_dialog, None
        if dialog is None or dialog not in self.app.screen_stack:
            return False
        while self.app.screen is not dialog:
            self.app.pop_screen()
        dialog.dismiss(None)
        return True

    def _listener(self, event: Event) -> None:
        """Called by the core, in the worker thread."""
        self._post(event)

    def _post(self, event: Event) -> None:
        # The comparison takes no cancel token: it stops at its next event. A restore stops at
        # the core's own safe points.
        if self.cancel_requested.is_set() and self.phase == Phase.VERIFY:
            raise Cancelled("The comparison was cancelled.")
        try:
            self.app.call_from_thread(self.show_event, event)
        except RuntimeError:
            # The app is gone (it ended abruptly): stop the core as a cancel would.
            raise Cancelled("The console ended while the restore was running.") from None

    def on_unmount(self) -> None:
        self.cancel_requested.set()
        if self._question is not None:  # the core's thread is not left waiting
            self._question.answer(None)

    def show_event(self, event: Event) -> None:
        if isinstance(event, Question):
            self._take_question(event)
            return
        if isinstance(event, Message):
            log.info("%s", event.text)
            self.query_one("#log-tail", RichLog).write(event.text)
            return
        if isinstance(event, StepStarted):
            text = f"Step {event.number} of {event.total}: {event.text}"
            log.info("%s", text)
            self.query_one("#plan-step", Static).update(text)
            self.query_one("#log-tail", RichLog).write(text)
            if self.tracker is not None:  # the last step's figures are not this step's
                self.tracker.finish_step()
                self.refresh_figures()
            return
        if isinstance(event, Progress) and self.tracker is not None:
            self.tracker.update(event)
            self.refresh_figures()

    def refresh_figures(self) -> None:
        tracker = self.tracker
        self.query_one("#step-name", Static).update(tracker.step_name or "Starting")
        self.query_one("#step-meter", Meter).fraction = tracker.step.fraction
        # A step that reports no figures (making a filesystem) shows none, not zeros.
        self.query_one("#step-figures", Static).update(tracker.step.describe()
                                                       if tracker.step_name else "")
        self.query_one("#current", Static).update(f"Now: {tracker.current}" if tracker.current
                                                  else "")
        overall = tracker.overall()
        self.query_one("#overall-meter", Meter).fraction = overall.fraction
        self.query_one("#overall-figures", Static).update(overall.describe(elapsed=True))

    # ---- the core's questions ----

    def _take_question(self, question: Question) -> None:
        """On the UI thread, while the core waits: the question is claimed here, before the
        core's listener call returns, and answered from its dialog."""
        question.claim()
        self._question = question
        self.query_one("#state", StatusLine).say(question.title + ".")
        if question.secret:
            from .passphrase import PassphraseScreen
            self.app.push_screen(PassphraseScreen(question.title, question.text, question.hint),
                                 lambda value: self._answer(question, value))
        elif question.kind is QuestionKind.INSERT_VOLUME:
            from .volume import VolumeScreen
            self.app.push_screen(VolumeScreen(question),
                                 lambda value: self._answer(question, value))
        else:
            self._offer_answers(question)

    def _offer_answers(self, question: Question) -> None:
        from .error import CHOICES, ErrorScreen
        choices = list(question.choices)
        if question.shell:
            choices.insert(len(choices) - 1, "shell")  # before abort, as the question words it

        def chosen(choice: str | None) -> None:
            if choice == "shell":
                self.app.action_shell()
                self._offer_answers(question)
                return
            self._answer(question, choice or question.default)

        self.app.push_screen(
            ErrorScreen(question.title, question.text, question.hint,
                        [(c, *CHOICES.get(c, (c[:1], c.capitalize()))) for c in choices]),
            chosen)

    def _answer(self, question: Question, value: str | None) -> None:
        self._question = None
        self._aborted_by_answer = value == ABORT
        self.query_one("#state", StatusLine).say("")
        question.answer(value)

    def _drop_question(self) -> None:
        """The run ends (quit, the screen goes): an open question gets its safe answer."""
        question, self._question = self._question, None
        if question is not None:
            while self.app.screen is not self and len(self.app.screen_stack) > 1:
                self.app.pop_screen()
            question.answer(None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "restore":
            return
        if event.state == WorkerState.SUCCESS:
            self.outcome = event.worker.result
            if self._withdraw_cancel_question():
                self.outcome.notes.append(f"The {self._run_word()} had already finished when "
                                          "the cancel was asked: the question was withdrawn.")
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            log.error("unexpected failure during the %s", self.phase.value, exc_info=error)
            self.outcome = self.outcome or Outcome(self.job)
            self.outcome.error, self.outcome.failed_in = error, self.phase
        else:
            return
        self.running = False
        self._proceed()

    def on_screen_resume(self) -> None:
        self._proceed()

    def _proceed(self) -> None:
        """Acts on the outcome once nothing (help, a question) is open over this screen."""
        outcome = self.outcome
        if self.running or outcome is None:
            return
        if self._quit_after:  # whatever is open over this screen: the operator or a signal
            self.app.exit(return_code=1 if outcome.cancelled_in or outcome.error else 0)
            return
        if self.app.screen is not self or self._asking:
            return
        if outcome.error is not None:
            if self._aborted_by_answer:  # the operator saw the failure and chose to abort
                self._aborted_by_answer = False
                self.app.back_to_start()
                return
            self._offer_choices(outcome)
            return
        from .done import DoneScreen
        self.app.switch_screen(DoneScreen(outcome))

    def _offer_choices(self, outcome: Outcome) -> None:
        failed_in = outcome.failed_in
        choices = ["retry", "skip", "shell", "abort"] if failed_in == Phase.VERIFY else \
            ["retry", "shell", "abort"]
        title = ("The comparison with the set failed" if failed_in == Phase.VERIFY
                 else "The restore failed")
        self.query_one("#state", StatusLine).say(title + ".")
        self._asking = True

        def then(choice: str) -> None:
            self._asking = False
            if choice == "retry":
                self.start(failed_in)
            elif choice == "skip":
                outcome.error = outcome.failed_in = None
                outcome.verify_skipped = True
                self._proceed()
            else:
                self.app.back_to_start()

        self.app.show_error(outcome.error, choices, then, title=title)

    # ---- cancelling and quitting ----

    def action_cancel(self) -> None:
        if not self.running or self.cancel_requested.is_set():
            return
        if self.job.kind == JobKind.FILES:
            self._ask(f"Cancel restoring the files? Those restored so far stay in "
                      f"{self.job.targets_text()}.", quit_after=False)
            return
        self._ask("Cancel the restore? The target is then left partly written and will not "
                  "boot until it is restored again." if self.phase == Phase.RESTORE else
                  "Cancel the comparison? The restore itself is done.", quit_after=False)

    def ask_to_quit(self) -> None:
        self._ask("A restore is running. Quit anyway? It is cancelled first, and the target is "
                  "left partly written." if self.phase == Phase.RESTORE else
                  "The comparison is running. Cancel it and quit?", quit_after=True)

    def cancel_and_quit(self) -> None:
        """Quits as after a yes to ask_to_quit, without asking (a signal ends the console):
        what is open over this screen closes, an open question gets its safe answer."""
        self._quit_after = True
        self._asking = False
        self.cancel_requested.set()
        self._drop_question()
        while self.app.screen is not self and len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        self._proceed()

    def _ask(self, question: str, *, quit_after: bool) -> None:
        """Asks over the running screen; the run goes on, and its progress is shown, while the
        question is open."""
        from .question import QuestionScreen
        self._asking = True
        dialog = QuestionScreen(question)
        if not quit_after:
            self._cancel_dialog = dialog

        def answered(yes: bool | None) -> None:
            self._asking = False
            if self._cancel_dialog is dialog:
                self._cancel_dialog = None
            if yes:
                self._quit_after = quit_after
                if self.running:
                    self.cancel_requested.set()
                    self._drop_question()
                    self.query_one("#state", StatusLine).say(
                        f"Cancelling: the {self._run_word()} stops between two files or steps; "
                        "a step such as making a filesystem finishes first.")
            self._proceed()

        self.app.push_screen(dialog, answered)
