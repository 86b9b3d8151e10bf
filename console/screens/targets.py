"""Choosing the target of each original disk (the case that exists today: same-size disks).

Targets that cannot take a disk are listed with the reason and cannot be chosen. The disk-mapping
editor (resizing onto other disks, partition edits) replaces this screen when the plan lands.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static

from widgets.partition_bar import PartitionBar, disk_segments

from ..core.errors import RestoreError
from ..core.layout import Disk
from ..core.targets import TargetChoice
from ..job import RESTORE, Job
from .common import StatusLine, TitleBar, disk_title, option

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
            "disk. A target that cannot be used says why. Nothing is written here: the next "
            "screen shows what will be done.")

    BINDINGS = [
        Binding("n", "next", "Review"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, kind: str, *, suggest: bool) -> None:
        super().__init__()
        self.kind = kind
        self.suggest = suggest
        self.chosen: dict[str, str] = {}  # original disk name -> target path
        self.choices: list[TargetChoice] = []
        self.problems: dict[tuple[str, str], list[str]] = {}

    def compose(self) -> ComposeResult:
        app = self.app
        backup_set = app.backup_set
        heading = ("Restore the whole machine" if self.suggest else
                   "Clone onto other disks" if self.kind == RESTORE else
                   "Compare disks with the set")
        yield TitleBar(f"{heading}: choose the target of each disk")
        try:
            self.choices = app.core.list_targets(app.target_images)
        except (RestoreError, OSError) as exc:
            self.choices = []
            yield Static(f"This machine's disks could not be listed: "
                         f"{getattr(exc, 'message', exc)}", classes="problem")
        for disk in backup_set.disks:
            for choice in self.choices:
                self.problems[(disk.name, choice.path)] = app.core.target_problems(
                    choice, disk, backup_set.path, self.kind == RESTORE)
        if self.suggest:
            self._suggest(backup_set.disks)
        with VerticalScroll(id="disks"):
            for index, disk in enumerate(backup_set.disks):
                yield PartitionBar(disk_title(disk), disk_segments(disk, backup_set.filesystems),
                                   disk_size=disk.size)
                options = DiskTargets(disk, id=f"disk-{index}", classes="targets")
                yield options
        if self.kind == RESTORE and not self.suggest:
            yield Static("Onto larger or smaller disks (resizing) comes with the disk-mapping "
                         "editor; today a target has the original's size.", classes="hint")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        for options in self.query(DiskTargets):
            self._fill(options)
        first = self.query(DiskTargets).first()
        first.focus()
        self._say_next()

    def _suggest(self, disks: list[Disk]) -> None:
        """The same disk where this machine still has it, else the only one that fits."""
        taken: set[str] = set()
        for disk in disks:
            usable = [c for c in self.choices
                      if not self.problems[(disk.name, c.path)] and c.path not in taken]
            same = [c for c in usable if c.path == disk.name]
            pick = same[0] if same else usable[0] if len(usable) == 1 else None
            if pick is not None:
                self.chosen[disk.name] = pick.path
                taken.add(pick.path)

    def _fill(self, options: DiskTargets) -> None:
        disk = options.disk
        highlighted = options.highlighted
        options.clear_options()
        taken = {t: d for d, t in self.chosen.items() if d != disk.name}
        if not self.choices:
            options.add_option(option("No disks found on this machine.", disabled=True))
        for choice in self.choices:
            problems = list(self.problems[(disk.name, choice.path)])
            if choice.path in taken:
                problems.append(f"chosen for {taken[choice.path]}")
            mark = "(*)" if self.chosen.get(disk.name) == choice.path else "( )"
            prompt = Text(f"{mark} {choice.title()}")
            for problem in problems:
                prompt.append(f"\n      {problem}", style="italic")
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
            self.chosen.pop(options.disk.name, None)
        else:
            self.chosen[options.disk.name] = event.option.id
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
        titles = {c.path: c.title() for c in self.choices}
        mapping = {d.name: self.chosen[d.name] for d in self.app.backup_set.disks
                   if d.name in self.chosen}
        job = Job(self.kind, self.app.backup_set, mapping,
                  {t: titles.get(t, t) for t in mapping.values()})
        self.app.push_screen(ReviewScreen(job))

    def action_back(self) -> None:
        self.app.pop_screen()
