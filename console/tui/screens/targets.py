"""Choosing the target of each original disk: restoring the whole machine, or comparing.

The targets are what discovery finds (the image files only, in the demo); the suggested mapping
is applied when the screen opens. A target that cannot take a disk (unsafe, or the layout does
not fit on it) is listed with the reason and cannot be chosen; larger and smaller disks are fine
when the layout fits. Partition edits are the disk-mapping editor's (clone onto other disks).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import OptionList, Static

from widgets.partition_bar import PartitionBar, disk_segments

from ...core.errors import RestoreError
from ...core.layout import Disk
from ...core.planning.choices import TargetChoices
from ...core.units import size
from ..job import Job, JobKind
from .common import disk_title, KeyFooter, option, StatusLine, target_prompt, TitleBar

SKIP = "--skip--"


class DiskTargets(OptionList):
    """The candidate targets of one original disk."""

    def __init__(self, disk: Disk, **kwargs) -> None:
        super().__init__(**kwargs)
        self.disk = disk


class TargetsScreen(Screen):
    """Original disks, each with the list of this machine's disks to restore it onto."""

    HELP = ("Each original disk of the set is listed with the disks of this machine it can go "
            "onto. Move with the arrow keys, choose with Enter; Tab goes to the next original "
            "disk. A target that cannot be used says why: unsafe, or the layout does not fit "
            "on it. On a larger or smaller disk the partitions are resized. Nothing is written "
            "here: the next screen shows what will be done.")

    BINDINGS = [
        Binding("n", "next", "Review"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, kind: JobKind) -> None:
        super().__init__()
        self.kind = kind
        self.choices: TargetChoices | None = None  # made when the set and the disks are known

    @property
    def chosen(self) -> dict[str, str]:
        """Original disk name -> target path."""
        return self.choices.chosen

    def compose(self) -> ComposeResult:
        app = self.app
        backup_set = app.backup_set
        heading = ("Restore the whole machine" if self.kind == JobKind.RESTORE else
                   "Compare disks with the set")
        yield TitleBar(f"{heading}: choose the target of each disk")
        try:
            targets = app.core.discover_targets(backup_set.medium.where, app.target_images)
        except (RestoreError, OSError) as exc:
            targets = []
            yield Static(f"This machine's disks could not be listed: "
                         f"{getattr(exc, 'message', exc)}", classes="problem")
        self.choices = TargetChoices(backup_set, targets, comparing=self.kind != JobKind.RESTORE)
        self.choices.apply_suggestion()
        with VerticalScroll(id="disks"):
            for index, disk in enumerate(backup_set.disks):
                yield PartitionBar(disk_title(disk), disk_segments(disk, backup_set.filesystems))
                options = DiskTargets(disk, id=f"disk-{index}", classes="targets")
                yield options
        if self.kind == JobKind.RESTORE:
            yield Static("On a larger or smaller disk the partitions are resized; to change "
                         "how, clone onto other disks (c on the start screen).", classes="hint")
        yield StatusLine(id="status")
        yield KeyFooter()

    def on_mount(self) -> None:
        for options in self.query(DiskTargets):
            self._fill(options)
        first = self.query(DiskTargets).first()
        first.focus()
        self._say_next()

    def _fill(self, options: DiskTargets) -> None:
        disk = options.disk
        highlighted = options.highlighted
        options.clear_options()
        choices = self.choices
        if not choices.targets:
            options.add_option(option("No disks found on this machine.", disabled=True))
        for choice in choices.targets:
            problems = [p.words for p in choices.problems(disk, choice)]
            prompt = target_prompt(choice.title(), self.chosen.get(disk.name) == choice.path,
                                   problems)
            resized = choices.fit(disk, choice).resized
            if not problems and resized is not None and resized.mode != "same geometry":
                prompt.append(f"\n      the partitions are resized: {size(disk.size)} -> "
                              f"{size(choice.size)}", style="italic")
            options.add_option(option(prompt, id=choice.path, disabled=bool(problems)))
        if len(self.app.backup_set.disks) > 1:
            mark = "(*)" if disk.name not in self.chosen else "( )"
            options.add_option(option(f"{mark} Do not restore this disk", id=SKIP))
        if highlighted is not None and highlighted < options.option_count:
            options.highlighted = highlighted
        elif disk.name in self.chosen:
            options.highlighted = options.get_option_index(self.chosen[disk.name])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        options = event.option_list
        if not isinstance(options, DiskTargets):
            return
        if event.option.id == SKIP:
            self.choices.leave_out(options.disk)
        else:
            self.choices.choose(options.disk, event.option.id)
        for other in self.query(DiskTargets):
            self._fill(other)
        self._say_next()

    def _say_next(self) -> None:
        status = self.query_one("#status", StatusLine)
        status.say("Press n to review what will be done." if self.chosen else
                   "Choose a target with Enter.")

    def action_next(self) -> None:
        if not self.chosen:
            self.query_one("#status", StatusLine).say(
                "No target chosen yet: choose one with Enter first.")
            return
        from .review import ReviewScreen
        backup_set = self.app.backup_set
        titles = {c.path: c.title() for c in self.choices.targets}
        mapping = self.choices.mapping().chosen()
        job = Job(self.kind, backup_set, mapping, {t: titles.get(t, t) for t in mapping.values()})
        if self.kind == JobKind.RESTORE:
            try:
                job.plan = self.choices.plan()
            except RestoreError as exc:
                self.query_one("#status", StatusLine).say(f"{exc.message} {exc.hint}")
                return
        self.app.push_screen(ReviewScreen(job))

    def action_back(self) -> None:
        self.app.pop_screen()
