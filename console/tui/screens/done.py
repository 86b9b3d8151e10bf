"""The end of a run: what was restored, what the comparison found, where the log is; then
reboot, a shell in the restored system, back to the start, or quit."""

from __future__ import annotations

from dataclasses import replace
from typing import ContextManager

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import OptionList, Static

from ...core.applying.finalize import changed_by_finalize
from ...core.errors import RestoreError
from ...core.units import count, duration, entries_and_data, number
from ..job import JobKind, Phase
from ..outcome import Outcome
from .common import KeyFooter, option, StatusLine, TitleBar

SHOWN_DIFFERENCES = 8


def headline(outcome: Outcome) -> str:
    job = outcome.job
    if job.kind == JobKind.FILES:
        return ("Restoring the files was cancelled" if outcome.cancelled_in
                else "The files are restored")
    if outcome.cancelled_in == Phase.RESTORE:
        return "The restore was cancelled"
    if job.kind != JobKind.RESTORE:
        if outcome.cancelled_in:
            return "The comparison was cancelled"
        return "The comparison is done"
    return "The machine is restored"


def files_lines(outcome: Outcome, log_path: str) -> list[str]:
    """What restoring selected files did: entries, bytes, where; what was left alone."""
    job, restored = outcome.job, outcome.restored
    lines = list(outcome.notes)
    if outcome.cancelled_in:
        lines.append(f"Cancelled: what was restored so far stays in {job.targets_text()}.")
    elif restored is not None:
        lines.append(f"Restored {entries_and_data(restored.entries, restored.bytes)} into "
                     f"{job.targets_text()} in {duration(outcome.seconds)}.")
        lines.append("Every restored file matched its BLAKE3 checksum from the set.")
        for where in restored.destinations:
            lines.append(f"  into {where}")
        if restored.skipped:
            lines.append(f"Left as they were (already there): "
                         f"{count(len(restored.skipped), 'entry')}.")
    if log_path:
        lines.append(f"The log: {log_path}.")
    return lines


def summary_lines(outcome: Outcome, log_path: str) -> list[str]:
    job = outcome.job
    if job.kind == JobKind.FILES:
        return files_lines(outcome, log_path)
    lines = list(outcome.notes)
    restored = outcome.restored
    cancelled = outcome.cancelled
    if outcome.cancelled_in == Phase.RESTORE and isinstance(cancelled, RestoreError):
        # The core's words: which tables and filesystems are done, which are not.
        lines += [cancelled.message, cancelled.hint]
    elif outcome.cancelled_in == Phase.RESTORE:
        lines += [f"{job.targets_text()} is partly written: it will not boot as it is.",
                  "Restore it again (it resumes after the filesystems already restored and "
                  "ends with the same result), or look at it from the shell."]
    elif restored is not None:
        lines.append(f"Restored {restored.summary()} onto {job.targets_text()} in "
                     f"{duration(outcome.seconds)}.")
        lines.append("Every restored file matched its BLAKE3 checksum from the set.")
        if restored.resumed:
            lines.append(f"Resumed an interrupted restore: {', '.join(restored.resumed)} "
                         f"{'was' if len(restored.resumed) == 1 else 'were'} already restored.")
        for name in restored.unmapped:
            lines.append(f"Not restored (no target chosen): disk {name}.")
        lines += finalize_lines(restored)
    verified = outcome.verified
    finalized = getattr(restored, "finalized", []) if restored is not None else []
    if verified is not None and finalized:
        # What the finalize changed differs from the set on purpose: said once, not listed.
        on_purpose = [d for d in verified.differences if changed_by_finalize(d.path, finalized)]
        if on_purpose:
            lines.append(f"Changed by the finalize, as planned: "
                         f"{count(len(on_purpose), 'entry')} differ from the set "
                         f"({', '.join(sorted({d.path for d in on_purpose})[:3])}"
                         f"{', ...' if len({d.path for d in on_purpose}) > 3 else ''}).")
            verified = replace(verified, differences=[d for d in verified.differences
                                                      if d not in on_purpose])
    if outcome.cancelled_in == Phase.RESTORE:
        pass
    elif verified is None:
        lines.append("Comparison with the set: " +
                     ("skipped." if outcome.verify_skipped else
                      "cancelled." if outcome.cancelled_in else "not made."))
    else:
        if verified.ok:
            lines.append(f"Comparison with the set: {verified.summary()}.")
        else:
            lines.append(f"Comparison with the set: {verified.summary()}:")
            # what was restored wrong first, then what was added on the disk since
            extras = verified.extras
            shown = [d for d in verified.differences if d not in extras] + extras
            for difference in shown[:SHOWN_DIFFERENCES]:
                lines.append(f"  {difference.path}: {difference.what}")
            more = len(verified.differences) - SHOWN_DIFFERENCES
            if more > 0:
                lines.append(f"  and {number(more)} more "
                             "(restore-console verify --json lists them all).")
        for skipped in verified.skipped:
            lines.append(f"  Not compared: {skipped}")
    if log_path:
        lines.append(f"The log: {log_path}" +
                     (f"; a copy is in the restored system, {restored.log_copy}/."
                      if restored is not None and outcome.cancelled_in is None
                      and getattr(restored, "log_copy", "") else "."))
    return lines


def finalize_lines(restored) -> list[str]:
    """What the finalize did to make the restored system boot, and the steps skipped."""
    lines = []
    changes = getattr(restored, "changes", [])
    for change in changes[:SHOWN_DIFFERENCES]:
        lines.append(f"Rewritten: {change}")
    if len(changes) > SHOWN_DIFFERENCES:
        lines.append(f"  and {number(len(changes) - SHOWN_DIFFERENCES)} more (in the log).")
    lines += [f"Boot: {done}" for done in getattr(restored, "boot", [])]
    lines += [f"Skipped after it failed: {what}" for what in getattr(restored, "skipped", [])]
    return lines


class DoneScreen(Screen):
    """The result, and what to do next."""

    HELP = ("The result of the run. Reboot starts the restored system; the shell opens in the "
            "restored system, mounted read-write (exit it to come back).")

    BINDINGS = [
        Binding("r", "choose('reboot')", "Reboot", show=False),
        Binding("s", "choose('shell')", "Shell", show=False),
        Binding("b", "choose('back')", "Back to the start", show=False),
        Binding("q", "choose('quit')", "Quit", show=False),
    ]

    def __init__(self, outcome: Outcome) -> None:
        super().__init__()
        self.outcome = outcome

    @property
    def restored_system(self) -> bool:
        """A finished restore leaves a system worth mounting for the shell."""
        outcome = self.outcome
        return outcome.job.kind == JobKind.RESTORE and outcome.restored is not None and \
            outcome.cancelled_in != Phase.RESTORE

    def compose(self) -> ComposeResult:
        outcome = self.outcome
        yield TitleBar(headline(outcome))
        with VerticalScroll(id="result"):
            yield Static("\n".join(summary_lines(outcome, self.app.log_path)), markup=False,
                         id="result-text")
        yield OptionList(*self._options(), id="next")
        yield StatusLine(id="status")
        yield KeyFooter()

    def _options(self) -> list:
        choices = []
        if self.restored_system:
            choices.append(option("[r] Reboot" + ("  (the demo does not reboot this machine)"
                                                  if self.app.demo else ""), id="reboot"))
        choices += [option("[s] Shell in the restored system" if self.restored_system
                           else "[s] Shell", id="shell"),
                    option("[b] Back to the start", id="back"), option("[q] Quit", id="quit")]
        return choices

    def on_mount(self) -> None:
        if self.restored_system:
            self.app.restored_mapping = dict(self.outcome.job.mapping)
        self.query_one("#next", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_choose(event.option.id)

    def action_choose(self, what: str) -> None:
        app = self.app
        if what == "shell":
            app.action_shell()
        elif what == "back":
            app.back_to_start()
        elif what == "quit":
            app.exit()
        elif what == "reboot" and self.restored_system:
            self._reboot()

    def _reboot(self) -> None:
        app = self.app
        if app.demo:
            self.query_one("#status", StatusLine).say(
                "The demo does not reboot this machine. On a machine being restored, this "
                "reboots into the restored system.")
            return
        from .question import QuestionScreen

        def answered(yes: bool | None) -> None:
            if yes:
                app.core.reboot()
                app.exit()

        app.push_screen(QuestionScreen("Reboot now into the restored system?"), answered)

    def shell_directory(self) -> ContextManager[str] | None:
        """For the expert shell: the restored system mounted read-write, when there is one."""
        if not self.restored_system:
            return None
        job = self.outcome.job
        return self.app.core.mounted_targets(job.backup_set, job.mapping)
