"""The disk-mapping editor: which disk of this machine each original disk goes onto, and how
its partitions are laid out there.

Left, the original disks with their targets; right, this machine's disks for the original disk
at hand (unusable ones listed with the reason, not selectable), by short names ("sda",
"target.img"); the line under the lists names the highlighted disk in full (path, serial). The
suggested mapping is applied when the screen opens. Under them, for every disk of the set, where
it goes, and for the disk at hand its original layout over the new one; then its partitions,
one row each: what it holds, old and new size, used where the width allows, the rule or the
operator's setting. A partition can be locked at its
size, given a size or a percentage, told to take the rest, or put back to the automatic rule;
the layout is planned again at once (console.core.planning.choices.TargetChoices) and its
problems are listed in words. Disks plugged in or removed while the screen is open appear or
disappear: a pyudev monitor (injectable, Core.block_monitor) is polled in a worker thread.
Nothing is written here: n builds the plan and the review shows it.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static

from widgets.partition_bar import BarSegment, LayoutComparison, disk_segments, resized_segments

from ...core.disks.discovery import TargetDisk
from ...core.disks.problems import ProblemKind
from ...core.errors import RestoreError, UsageError
from ...core.layout import Disk
from ...core.planning.choices import Fit, TargetChoices
from ...core.planning.resize import Override, ResizePolicy, partition_label, rule_words
from ...core.units import size
from ..job import Job, JobKind
from .common import (
    KeyFooter,
    StatusLine,
    TitleBar,
    disk_title,
    option,
    relay_monitor_events,
    short_name,
    target_label,
    target_prompt,
)

log = logging.getLogger("restore_console")

SKIP = "--skip--"
# How a layout is laid onto its target, in a disk's heading.
MODE_WORDS = {"same geometry": "as it was", "proportional": "resized",
              "grow-last": "last partition resized"}
# Columns the partition list's frame, padding and scroll bar take from the screen's width.
PARTITION_LIST_FRAME = 8
# How often the hot-plug worker looks whether it is still wanted, in seconds.
POLL_SECONDS = 0.25


def override_words(override: Override | None) -> str:
    if override is None:
        return ""
    if override.mode == "fixed":
        return "locked"
    if override.mode == "size":
        return f"set to {size(override.value)}"
    if override.mode == "percent":
        return f"set to {override.value:g}%"
    if override.mode == "rest":
        return "takes the rest"
    if override.mode == "weight":
        return f"weight {override.value:g}"
    return "auto"


class MappingScreen(Screen):
    """Map the original disks onto this machine's disks and edit their layouts."""

    HELP = ("Left: the disks of the set and where each goes. Right: this machine's disks for "
            "the disk at hand; Enter maps it there (a disk that cannot take it says why). The line "
            "under them names the highlighted disk in full. Below: where each disk goes ('>' "
            "marks the disk at hand), its original layout over its new one, and its "
            "partitions. On the partition list: "
            "l locks a partition at its size, s gives it a size (20G), p a percentage of the "
            "disk, r lets it take the rest, a puts it back to the automatic rule. The layout is "
            "planned again at once; what stands against it is listed in words. Disks plugged "
            "in or removed appear or disappear. n shows the plan; nothing is written before "
            "you confirm it.")

    BINDINGS = [
        Binding("n", "next", "Review"),
        # Said in the line under the partitions; the footer keeps room for F1 and F2 at 80 columns.
        Binding("l", "edit('fixed')", "Lock the partition's size", show=False),
        Binding("s", "edit('size')", "Give the partition a size", show=False),
        Binding("p", "edit('percent')", "Give it a percentage of the disk", show=False),
        Binding("r", "edit('rest')", "Let it take the rest", show=False),
        Binding("a", "edit('auto')", "Back to the automatic rule", show=False),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.choices: TargetChoices | None = None  # made when the screen is composed
        self.current = 0  # index of the original disk at hand
        self.editing: tuple[str, int, str] | None = None  # disk, partition, "size" | "percent"
        self.listing_problem = ""

    # ---- data ----

    @property
    def disks(self) -> list[Disk]:
        return self.app.backup_set.disks

    @property
    def disk(self) -> Disk:
        return self.disks[self.current]

    @property
    def chosen(self) -> dict[str, str]:
        """Original disk name -> target path."""
        return self.choices.chosen

    @property
    def targets(self) -> list[TargetDisk]:
        return self.choices.targets

    def policy(self, name: str) -> ResizePolicy:
        return self.choices.policy(name)

    def target(self, path: str | None) -> TargetDisk | None:
        return self.choices.target(path)

    def planned(self, disk: Disk) -> Fit | None:
        """The planned layout of disk on its target, None when it is not mapped."""
        return self.choices.planned(disk)

    def discover(self) -> list[TargetDisk]:
        app = self.app
        try:
            targets = app.core.discover_targets(app.backup_set.medium.where, app.target_images)
            self.listing_problem = ""
        except (RestoreError, OSError) as exc:
            targets = []
            self.listing_problem = ("This machine's disks could not be listed: "
                                    f"{getattr(exc, 'message', exc)}")
        return targets

    # ---- screen ----

    def compose(self) -> ComposeResult:
        yield TitleBar("Clone onto other disks: map each disk, edit its layout")
        self.choices = TargetChoices(self.app.backup_set, self.discover())
        self.choices.apply_suggestion()
        editor = VerticalScroll(id="editor")
        editor.can_focus = False  # the lists take the keys; Tab goes from list to list
        with editor:
            # Filled here, not after mounting: the first layout is the final one.
            with Horizontal(id="mapping-lists"):
                originals = OptionList(*self._originals_options(), id="originals")
                originals.border_title = "The set's disks"
                yield originals
                machine = OptionList(*self._machine_options(), id="machine")
                machine.border_title = "Onto this machine's disk"
                yield machine
            yield Static("", id="detail", markup=False)
            # Every disk of the set, original left and new right; '>' marks the one at hand.
            with Vertical(id="comparisons"):
                for index, disk in enumerate(self.disks):
                    yield LayoutComparison(*self._comparison(disk), id=f"comparison-{index}",
                                           classes="current" if index == self.current
                                           else "collapsed")
            partitions = OptionList(*self._partition_options(self.disk,
                                                             self.planned(self.disk)),
                                    id="partitions")
            partitions.border_title = "Partitions: l lock  s size  p percent  r rest  a auto"
            yield partitions
        words, bad = self._problems_text()
        yield Static(words, id="layout-problems", markup=False, classes="problem" if bad else "")
        yield Input(id="value")
        yield StatusLine(id="status")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#value", Input).display = False
        self._highlight(self.query_one("#originals", OptionList), self.current)
        machine = self.query_one("#machine", OptionList)
        if self.disk.name in self.chosen:
            self._highlight(machine, machine.get_option_index(self.chosen[self.disk.name]))
        self._highlight(self.query_one("#partitions", OptionList), 0)
        self.query_one("#originals", OptionList).focus()
        self._show_detail()
        monitor = self.app.core.block_monitor()
        if monitor is not None:
            self.watch_disks(monitor)

    def show(self) -> None:
        """Every part of the screen from the current mapping and policies."""
        self._fill_originals()
        self._fill_machine()
        self._fill_layout()

    @staticmethod
    def _highlight(options: OptionList, index: int | None) -> None:
        if index is not None and index < options.option_count:
            options.highlighted = index

    def _originals_options(self) -> list:
        options = []
        for disk in self.disks:
            target = self.target(self.chosen.get(disk.name))
            where = f"-> {target.name}" if target else "not restored"
            options.append(option(f"{short_name(disk.name)} {size(disk.size)}\n  {where}",
                                  id=disk.name))
        return options

    def _fill_originals(self) -> None:
        originals = self.query_one("#originals", OptionList)
        originals.clear_options()
        originals.add_options(self._originals_options())
        originals.highlighted = self.current

    def _fill_machine(self) -> None:
        machine = self.query_one("#machine", OptionList)
        highlighted = machine.highlighted
        machine.clear_options()
        machine.add_options(self._machine_options())
        disk = self.disk
        if highlighted is not None and highlighted < machine.option_count:
            machine.highlighted = highlighted
        elif disk.name in self.chosen:
            machine.highlighted = machine.get_option_index(self.chosen[disk.name])

    def _machine_options(self) -> list:
        options = []
        disk = self.disk
        if self.listing_problem:
            options.append(option(self.listing_problem, disabled=True))
        elif not self.targets:
            options.append(option("No disks found on this machine.", disabled=True))
        for target in self.targets:
            chosen = self.chosen.get(disk.name) == target.path
            # For the chosen target, a layout that does not fit is said once, under the
            # partitions, with the edit that caused it.
            problems = [p.words for p in self.choices.problems(disk, target)
                        if not (chosen and p.kind is ProblemKind.LAYOUT_DOES_NOT_FIT)]
            prompt = target_prompt(target_label(target), chosen, problems)
            options.append(option(prompt, id=target.path, disabled=bool(problems)))
        mark = "( )" if disk.name in self.chosen else "(*)"
        options.append(option(f"{mark} Do not restore this disk", id=SKIP))
        return options

    def _comparison(self, disk: Disk) -> tuple:
        """LayoutComparison's arguments for disk: the heading (where it goes), its original
        layout and the planned one. The disk at hand is marked with '>' (no colour needed to
        see which one the keys edit)."""
        filesystems = self.app.backup_set.filesystems_on(disk.name)
        target = self.target(self.chosen.get(disk.name))
        mark = ">" if disk is self.disk else " "
        heading = f"{mark} {short_name(disk.name)} {size(disk.size)}"
        original = disk_segments(disk, filesystems)
        if target is None:
            return f"{heading}: not restored", original, []
        heading += f" -> {target.name} {size(target.size)}"
        found = self.choices.fit(disk, target)
        if found.resized is None:
            return (f"{heading}, does not fit", original,
                    [BarSegment("the reason is under the partitions", target.size,
                                style="free")])
        return (f"{heading}, {MODE_WORDS.get(found.resized.mode, found.resized.mode)}",
                original, resized_segments(found.resized, filesystems))

    def _fill_layout(self) -> None:
        for index, disk in enumerate(self.disks):
            comparison = self.query_one(f"#comparison-{index}", LayoutComparison)
            comparison.update(*self._comparison(disk))
            comparison.set_class(index == self.current, "current")
            comparison.set_class(index != self.current, "collapsed")
        partitions = self.query_one("#partitions", OptionList)
        highlighted = partitions.highlighted
        partitions.clear_options()
        partitions.add_options(self._partition_options(self.disk, self.planned(self.disk)))
        if highlighted is not None and highlighted < partitions.option_count:
            partitions.highlighted = highlighted
        elif partitions.option_count:
            partitions.highlighted = 0
        words, bad = self._problems_text()
        widget = self.query_one("#layout-problems", Static)
        widget.update(words)
        widget.set_class(bad, "problem")

    def _partition_options(self, disk: Disk, found: Fit | None) -> list:
        """One row per partition, never wrapped: the data used is left out of the rows where
        the screen is too narrow for it (the bars above say it)."""
        labels = {fs.partition: fs for fs in self.app.backup_set.filesystems_on(disk.name)}
        decisions = {d.number: d for d in found.resized.decisions} \
            if found is not None and found.resized is not None else {}
        overrides = self.policy(disk.name).overrides
        rows = []
        for part in sorted(disk.partitions, key=lambda p: p.number):
            fs = labels.get(part.number)
            decision = decisions.get(part.number)
            label = "extended" if part.kind == "extended" else \
                partition_label(part, fs, disk.table, copied=False)
            kind = fs.archive.kind if fs and fs.archive else ""
            used = f"{size(fs.bytes_used)} used" if kind == "tar" else ""
            # What the operator asked for, else what the resize did, else that it is a copy.
            mark = override_words(overrides.get(part.number))
            rule = f"[{mark}]" if mark else "copied as is" if kind == "raw" and not (
                decision and decision.rule == "floored") else rule_words(decision) \
                if decision else ""
            new = size(decision.new_size) if decision else "?"
            rows.append((part, label, f"{size(part.size):>9} -> {new:>9}", used, rule))
        width = max((len(label) for _, label, *_ in rows), default=8)
        room = self.app.size.width - PARTITION_LIST_FRAME
        with_used = all(len(self._row(n, label, width, sizes, used, rule)) <= room
                        for n, label, sizes, used, rule in rows)
        return [option(self._row(part, label, width, sizes, used if with_used else "", rule),
                       id=str(part.number), disabled=part.kind == "extended")
                for part, label, sizes, used, rule in rows]

    @staticmethod
    def _row(part, label: str, width: int, sizes: str, used: str, rule: str) -> str:
        return "  ".join(x for x in (f"{part.number:>2} {label:<{width}} {sizes}", used, rule)
                         if x)

    def problems(self) -> list[str]:
        """What stands against the current mapping and layouts, in words."""
        found = []
        if self.listing_problem:
            found.append(self.listing_problem)
        for disk in self.disks:
            layout = self.planned(disk)
            if layout is None:
                continue
            target = self.target(self.chosen[disk.name])
            found += [f"{disk.name} on {target.name}: {p}" for p in layout.words]
        if not self.chosen:
            found.append("No disk is mapped: choose a target for at least one disk.")
        return found

    def _problems_text(self) -> tuple[str, bool]:
        problems = self.problems()
        if problems:
            return "\n".join(problems), True
        return "The layouts fit. Press n to review the plan.", False

    # ---- the operator's moves ----

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "originals" and event.option_index != self.current:
            self.current = event.option_index
            self._fill_machine()
            self._fill_layout()
        if event.option_list.id in ("originals", "machine"):
            self._show_detail(event.option_list)

    def on_descendant_focus(self, event) -> None:
        if getattr(event.widget, "id", None) in ("originals", "machine"):
            self._show_detail(event.widget)

    def _show_detail(self, options: OptionList | None = None) -> None:
        """The line under the lists: the highlighted disk named in full, where the rows have
        only its short name."""
        options = options or self.query_one("#originals", OptionList)
        text = ""
        if options.id == "originals":
            text = f"Original {disk_title(self.disk, full=True)}"
        elif options.highlighted is not None:
            target = self.target(options.get_option_at_index(options.highlighted).id)
            text = f"This machine's disk {target.title()}" if target else ""
        self.query_one("#detail", Static).update(text)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "originals":
            self.query_one("#machine", OptionList).focus()
        elif event.option_list.id == "machine":
            name = self.disk.name
            if event.option.id == SKIP:
                self.choices.leave_out(self.disk)
                self.say(f"{short_name(name)} is not restored.")
            else:
                self.choices.choose(self.disk, event.option.id)
                self.say(f"{short_name(name)} goes onto {self.target(event.option.id).name}.")
            self.show()
        elif event.option_list.id == "partitions":
            self.say("l lock, s size, p percent, r take the rest, a automatic.")

    def say(self, text: str) -> None:
        self.query_one("#status", StatusLine).say(text)

    def action_edit(self, mode: str) -> None:
        partitions = self.query_one("#partitions", OptionList)
        if self.focused is not partitions or partitions.highlighted is None:
            self.say("Move to the partition list (Tab) and choose a partition first.")
            return
        disk = self.disk
        if disk.name not in self.chosen:
            self.say(f"Choose a target for {short_name(disk.name)} first.")
            return
        number = int(partitions.get_option_at_index(partitions.highlighted).id)
        if mode in ("size", "percent"):
            self.editing = (disk.name, number, mode)
            value = self.query_one("#value", Input)
            value.value = ""
            value.placeholder = ("the new size, e.g. 20G or 512M, then Enter (Esc: keep it)"
                                 if mode == "size" else
                                 "the share of the disk in percent, e.g. 30, then Enter")
            value.display = True
            value.focus()
            fs = next((f for f in self.app.backup_set.filesystems_on(disk.name)
                       if f.partition == number), None)
            what = f"{number} ({fs.title})" if fs else str(number)
            self.say(f"{'Size' if mode == 'size' else 'Share of the disk'} of partition "
                     f"{what}: type it, Enter sets it, Esc keeps the partition as it is.")
            return
        self.apply(disk.name, number, None if mode == "auto" else Override(mode))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.editing is None:
            return
        name, number, mode = self.editing
        text = event.value.strip()
        if mode == "percent":
            text = text.removesuffix("%") + "%"
        try:
            override = Override.parse(text)
        except (UsageError, RestoreError) as exc:
            self.say(f"{exc.message} {exc.hint}".strip())
            return
        self._close_input()
        self.apply(name, number, override)

    def _close_input(self) -> None:
        self.editing = None
        value = self.query_one("#value", Input)
        value.display = False
        self.query_one("#partitions", OptionList).focus()

    def apply(self, name: str, number: int, override: Override | None) -> None:
        """Sets (or, with None, removes) the override of one partition and plans again."""
        policy = self.policy(name)
        overrides = dict(policy.overrides)
        if override is None:
            overrides.pop(number, None)
        else:
            if override.mode == "rest":  # one partition takes the rest
                overrides = {n: o for n, o in overrides.items() if o.mode != "rest"}
            overrides[number] = override
        self.choices.set_policy(name, replace(policy, overrides=overrides))
        self.show()
        what = override_words(override) or "automatic"
        # Whether it fits is said under the partitions, once.
        self.say(f"Partition {number} {what}: the layout is planned again.")

    def action_back(self) -> None:
        if self.editing is not None:
            self._close_input()
            self.say("The size was left as it was.")
            return
        self.app.pop_screen()

    def action_next(self) -> None:
        problems = self.problems()
        if problems:
            self.say("Not yet: " + problems[0])
            return
        from .review import ReviewScreen
        backup_set = self.app.backup_set
        mapping = self.choices.mapping().chosen()
        titles = {t.path: t.title() for t in self.targets}
        try:
            plan = self.choices.plan()
        except RestoreError as exc:
            self.say(f"{exc.message} {exc.hint}".strip())
            return
        job = Job(JobKind.RESTORE, backup_set, mapping,
                  {t: titles.get(t, t) for t in mapping.values()}, plan=plan)
        self.app.push_screen(ReviewScreen(job))

    # ---- hot-plug ----

    @work(thread=True, exclusive=True, group="hot-plug", exit_on_error=False)
    def watch_disks(self, monitor) -> None:
        """In a worker thread: each disk event makes the lists be read again."""
        relay_monitor_events(self.app, monitor, self.disks_changed, POLL_SECONDS)

    def disks_changed(self, device) -> None:
        """A disk came or went: discovery again; mappings onto a disk that is gone are undone."""
        action = getattr(device, "action", "") or "changed"
        name = getattr(device, "sys_name", "") or "a disk"
        gone = self.choices.set_targets(self.discover())
        log.info("hot-plug: %s %s; %d disks found", name, action, len(self.targets))
        self.show()
        words = {"add": "was plugged in", "remove": "was removed"}.get(action, action)
        self.say(f"{name} {words}: the list of disks is read again."
                 + (f" No longer mapped: {', '.join(gone)}." if gone else ""))
