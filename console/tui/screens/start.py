"""The first screen: the set that was found, and what can be done with it."""

from __future__ import annotations

import logging
from datetime import datetime

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import OptionList, Static

from widgets.partition_bar import PartitionBar, disk_segments

from ...core.backupset.manifest import BackupSet
from ...core.layout import GPT_BIOS_BOOT, GPT_ESP, Disk, Filesystem, Partition
from ...core.units import ago, count, size
from ..job import JobKind
from .common import disk_title, KeyFooter, option, StatusLine, TitleBar

log = logging.getLogger("restore_console")

NEEDS_ROOT = ("whole", "clone", "files", "verify")
# What blkid's names of the stacks not understood yet mean, for a partition saved as an image.
CONTENT_NAMES = {"LVM2_member": "LVM physical volume", "linux_raid_member": "md RAID member",
                 "crypto_LUKS": "LUKS (encrypted)"}


def when(created: str) -> str:
    """The set's creation time as a person reads it: 2026-11-23 08:55 UTC."""
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return created
    zone = moment.strftime("%Z").replace("UTC+00:00", "UTC")
    return moment.strftime("%Y-%m-%d %H:%M") + (f" {zone}" if zone else "")


def created_text(created: str, now: datetime) -> str:
    """2026-11-23 08:55 UTC (3 hours ago); the manifest's text as it is if it is no date."""
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return created
    if moment.tzinfo is None:
        return when(created)
    return f"{when(created)} ({ago(now - moment)})"


def set_summary(backup_set: BackupSet, now: datetime) -> str:
    lines = [f"Backup of [b]{escape(backup_set.host)}[/b], made "
             f"{created_text(backup_set.created, now)}",
             f"Set {backup_set.set_id} in {escape(backup_set.medium.where)}"]
    if backup_set.omissions:
        lines.append(incomplete_warning(len(backup_set.omissions)))
    return "\n".join(lines)


def incomplete_warning(omitted: int) -> str:
    """Two lines at most at 80 columns: the set lacks something; inspect and the backup's log
    list every item."""
    return (f"[b]This set is incomplete:[/b] {count(omitted, 'thing')} "
            f"{'was' if omitted == 1 else 'were'} not captured fully; "
            "'restore-console inspect' lists them")


def partition_label(part: Partition, fs: Filesystem | None) -> str:
    """What a partition is, in a few words: "ext4 /home", "swap", "BIOS boot partition"."""
    if fs is not None and fs.type == "swap":
        return "swap"
    if fs is not None and fs.type:
        return fs.title
    if fs is not None and fs.content:
        return CONTENT_NAMES.get(fs.content, fs.content)
    type_uuid = part.type_uuid.upper()
    if type_uuid == GPT_BIOS_BOOT or "bios_grub" in part.flags:
        return "BIOS boot partition"
    if type_uuid == GPT_ESP:
        return "EFI system partition"
    if part.kind == "extended":
        return "extended partition"
    return f"partition {part.number}"


def partition_details(part: Partition, fs: Filesystem | None) -> str:
    """What the set holds of it: use and files, an image, or nothing."""
    if part.kind == "extended":
        return "holds the logical partitions"
    if fs is None:
        return "not in the set"
    if fs.type == "swap":
        return ""  # nothing to keep: it is made again
    if fs.archive is None:
        return "not in the set"
    if fs.archive.kind == "tar":
        return (f"{size(fs.bytes_used)} used, "
                f"{count(sum(a.members for a in fs.archives), 'entry')}"
                + (f", {count(len(fs.subvolumes), 'subvolume')}" if fs.subvolumes else "")
                + (f", label {fs.label}" if fs.label else ""))
    return "saved as an image"


def partition_lines(backup_set: BackupSet, disk: Disk) -> list[str]:
    """Every partition of the disk in disk order, each with its number, what it is, its size
    and what the set holds of it: the title's count and this list agree."""
    by_number = {fs.partition: fs for fs in backup_set.filesystems_on(disk.name)}
    parts = sorted(disk.partitions, key=lambda p: (p.start, p.number))
    labels = [partition_label(p, by_number.get(p.number)) for p in parts]
    width = max([11, *map(len, labels)])
    lines = []
    for part, label in zip(parts, labels):
        details = partition_details(part, by_number.get(part.number))
        lines.append(f"  {part.number:>2} {label:<{width}} {size(part.size):>10}"
                     + (f", {details}" if details else ""))
    return lines


class StartScreen(Screen):
    """What the set holds; restore it whole, clone it, pick files, or compare."""

    HELP = ("The backup set found, with its disks and filesystems. Choose what to do with "
            "the arrow keys and Enter, or with the letter shown. Nothing is written to any "
            "disk before you have reviewed the plan and typed the target's name.")

    ACTIONS = [
        ("whole", "Restore the whole machine", "Every disk onto the suggested disk"),
        ("clone", "Clone onto other disks", "Map the disks and edit their layouts"),
        ("files", "Restore selected files", "Pick files and folders from the set"),
        ("verify", "Compare the disks with the set", "Check restored disks against the set"),
        ("shell", "Open a shell", "The expert shell; exit it to come back here"),
        ("quit", "Quit", "Leave the console"),
    ]
    # How often "(3 hours ago)" is said again: the console may stay open for hours.
    AGE_REFRESH = 30.0  # seconds

    KEYS = {"whole": "w", "clone": "c", "files": "f", "verify": "v", "shell": "s", "quit": "q"}

    BINDINGS = [
        Binding("w", "run('whole')", "Whole machine", show=False),
        Binding("c", "run('clone')", "Clone", show=False),
        Binding("f", "run('files')", "Selected files", show=False),
        Binding("v", "run('verify')", "Compare", show=False),
        Binding("s", "run('shell')", "Shell", show=False),
        Binding("q", "run('quit')", "Quit", show=False),
        # no description: not in the help of a set's screen; the list of sets found says it
        Binding("r", "rescan", "", show=False),
    ]

    def compose(self) -> ComposeResult:
        app = self.app
        yield TitleBar("restore-console" + ("  (demo: disk-image files only)" if app.demo else ""))
        with VerticalScroll(id="summary"):
            backup_set = app.backup_set
            if backup_set is None and app.looks_for_sets:
                from .found_sets import FoundSets
                yield FoundSets()
            elif backup_set is None:
                problem = app.set_problem
                yield Static(problem.message if problem else "No backup set was given.",
                             id="no-set", classes="problem")
                yield Static(problem.hint if problem and problem.hint else
                             "Start with --set PATH (the directory holding manifest.json, an "
                             "ISO volume or drive, a tape), or --demo.",
                             classes="hint")
            else:
                yield Static(set_summary(backup_set, app.core.now()), id="set")
                for disk in backup_set.disks:
                    yield PartitionBar(disk_title(disk),
                                       disk_segments(disk, backup_set.filesystems))
                    lines = partition_lines(backup_set, disk)
                    if lines:
                        yield Static("\n".join(lines), classes="filesystems", markup=False)
        if not app.core.is_root():
            yield Static("Running without root: restoring, cloning, restoring files and "
                         "comparing attach disks and mount filesystems, so they need root. "
                         "The set, the log and the shell work.", id="not-root", classes="hint")
        yield OptionList(*self._options(), id="actions")
        yield StatusLine(id="status")
        yield KeyFooter()

    def _options(self) -> list:
        root = self.app.core.is_root()
        has_set = self.app.backup_set is not None
        options = []
        for key, title, _help in self.ACTIONS:
            prompt = f"[{self.KEYS[key]}] {title}"
            disabled = False
            if key in NEEDS_ROOT:
                if not has_set:
                    disabled = True
                elif not root:
                    prompt += "  (needs root)"
                    disabled = True
            options.append(option(prompt, id=key, disabled=disabled))
        return options

    def action_rescan(self) -> None:
        """Started without a set: look for sets on the media again."""
        from .found_sets import FoundSets
        for found in self.query(FoundSets):
            found.search()

    def set_opened(self, path: str, backup_set: BackupSet) -> None:
        """A set found on the media was opened: the screen shows it."""
        app = self.app
        app.set_path, app.backup_set = path, backup_set
        app.switch_screen(StartScreen())

    def on_mount(self) -> None:
        self.query_one("#actions", OptionList).focus()
        if self.app.backup_set is not None:
            self.set_interval(self.AGE_REFRESH, self.show_age)

    def show_age(self) -> None:
        """The summary again with the set's age as of now (the app's clock)."""
        summary = set_summary(self.app.backup_set, self.app.core.now())
        shown = self.query_one("#set", Static)
        if str(shown.content) != summary:  # a redraw only when the words change
            shown.update(summary)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.run_action(event.option.id)

    def action_run(self, key: str) -> None:
        self.run_action(key)

    def say(self, text: str) -> None:
        self.query_one("#status", StatusLine).say(text)

    def pick_files(self) -> None:
        """The file picker over the set's catalog; its choice runs on the progress screen."""
        from ...core.errors import RestoreError
        from ..job import Job, Totals
        from .file_picker import FilePickerScreen, RestoreChoice
        from .progress import ProgressScreen
        app = self.app
        try:
            trees = app.core.open_trees(app.backup_set)
        except RestoreError as exc:
            self.say(f"The set's file list cannot be read: {exc.message} {exc.hint}".strip())
            return
        if not trees.filesystems:
            trees.catalog.close()
            self.say("This set has no filesystem saved file by file: there are no files to "
                     "pick (images are restored whole).")
            return

        def chosen(choice: RestoreChoice | None) -> None:
            try:
                if choice is None:
                    return
                selected = trees.totals()
                job = Job(JobKind.FILES, app.backup_set, files=choice,
                          files_totals=Totals(selected.bytes, selected.entries, 0))
            finally:
                trees.catalog.close()
            app.push_screen(ProgressScreen(job))

        def find_existing(choice: RestoreChoice):
            if choice.place is not None:
                return app.core.existing_in_place(app.backup_set, choice.selections,
                                                  choice.place.mapping)
            return app.core.existing_into(app.backup_set, choice.selections,
                                          choice.destination)

        places, problem = self._places()
        app.push_screen(FilePickerScreen(trees, places=places, note=problem,
                                         find_existing=find_existing), chosen)

    def _places(self) -> tuple[list, str]:
        """Where picked files can go back to: the disks holding the set's filesystems, the
        ones restored in this session first; and why the disks could not be searched."""
        from ...core.applying.inplace import place_for_mapping
        from ...core.errors import RestoreError
        app = self.app
        problem = ""
        try:
            places = app.core.find_places(app.backup_set, app.target_images)
        except Exception as exc:  # an offer the picker can do without: said, not fatal
            words = exc.message if isinstance(exc, RestoreError) else str(exc)
            log.exception("searching the disks for the set's filesystems")
            problem = (f"The disks could not be searched for the set's filesystems ({words}); "
                       "files can still be restored into a directory.")
            places = []
        if app.restored_mapping:
            places = [place_for_mapping(app.restored_mapping, "just restored"),
                      *(p for p in places if p.mapping != app.restored_mapping)]
        return places, problem

    def run_action(self, key: str) -> None:
        app = self.app
        if key == "shell":
            app.action_shell()
            return
        if key == "quit":
            app.exit()
            return
        if app.backup_set is None:
            self.say("There is no backup set to work with.")
            return
        if key in NEEDS_ROOT and not app.core.is_root():
            self.say("That needs root: start restore-console as root (sudo).")
            return
        if key == "files":
            self.pick_files()
            return
        if key == "clone":
            from .mapping import MappingScreen
            self.app.push_screen(MappingScreen())
            return
        from .targets import TargetsScreen
        self.app.push_screen(TargetsScreen(JobKind.VERIFY if key == "verify" else JobKind.RESTORE))
