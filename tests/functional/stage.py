"""A fixed stage for the app's Pilot tests and snapshots: a real set manifest (web-01, two disks),
this machine's disks as a fixed list, a clock that moves only when told, and core calls that play
fixed events. The disks of a machine being restored cannot exist here; everything the screens
compute from them is the app's own code.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from textual.widgets import OptionList

from console.core.applying.existing import Existing
from console.core.applying.restore import RestoreResult
from console.core.applying.verify import Difference, VerifyResult
from console.core.disks.discovery import TargetDisk
from console.core.errors import Cancelled, RestoreError
from console.core.events import Event, Message, Progress, StepStarted
from console.core.planning.plan import Plan
from console.core.questions import RETRY, ask, step_failed
from console.tui.app import RestoreApp
from console.tui.facade import Core, load_set

GiB = 1024 ** 3
MiB = 1024 ** 2
WEB01_FILES = str(Path(__file__).parent / "data" / "web-01")
# Where the stage's set is said to be (a USB disk mounted by the rescue system): screens and
# snapshots show this path, the same in every checkout.
WEB01 = "/media/backup/web-01"
NOW = datetime(2026, 3, 14, 5, 30, tzinfo=timezone.utc)
LOG_PATH = "/var/log/restore-console.log"



def disk(name: str, size: int, model: str, serial: str, **kwargs) -> TargetDisk:
    """A disk as discovery reports it."""
    return TargetDisk(path=f"/dev/{name}", name=name, size=size, logical_sector_size=512,
                      physical_sector_size=512, alignment=MiB, model=model, serial=serial,
                      **{"transport": "ata", **kwargs})


# This machine's disks; the set is on the USB disk sdd (discovery finds it holds the media).
TARGETS = [
    disk("sda", 40 * GiB, "QEMU HARDDISK", "QM00001"),
    disk("sdb", 100 * GiB, "QEMU HARDDISK", "QM00002"),
    disk("sdc", 200 * GiB, "Samsung SSD 870", "S6PNNX0T"),
    disk("sdd", 16 * GiB, "USB DISK", "0401", removable=True, transport="usb", holds_media=True),
    disk("sde", 40 * GiB, "WDC WD400", "WD-0042"),
]


class FakeMonitor:
    """block_monitor for the tests: poll() hands out what the test put in (a disk plugged in)."""

    def __init__(self):
        import queue
        self.events = queue.Queue()
        self.polls = 0

    def poll(self, timeout=None):
        import queue
        self.polls += 1
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None


class Clock:
    """time.monotonic for the app, moved by hand."""

    def __init__(self, value: float = 1000.0):
        self.value = value

    def __call__(self) -> float:
        return self.value


@dataclass
class Calls:
    """Records what a fake was called with."""

    calls: list = field(default_factory=list)

    def __call__(self, *args):
        self.calls.append(args)
        return 0


# What the core says when a restore of the stage is cancelled in its step 19.
CANCELLED = Cancelled(
    "The restore was cancelled in step 19 of 27 (Restore filesystem 2 (ext4 /)): the partition "
    "tables of sda and sdb are written; partition 1 (no filesystem) is restored; ext4 / is "
    "partly restored; ext4 /home and xfs /srv are not restored yet.",
    "The target will not boot as it is. Run the same restore again: it resumes after what is "
    "done.")


class Scripted:
    """A core call (restore or verify) that plays fixed events at fixed clock readings.

    hold=True: after the events it keeps reporting the last one, as a long restore would, until
    a cancel stops it (the token set: it raises CANCELLED; or the listener raises) or hold is
    set to False; events put in `more` are played meanwhile. `reached` is set once all the
    fixed events are out.
    """

    def __init__(self, clock: Clock, events: list[tuple[float, Event]], result=None, *,
                 hold: bool = False, errors: list[BaseException] | None = None):
        self.clock = clock
        self.events = events
        self.result = result
        self.hold = hold
        self.errors = list(errors or [])  # raised by the first calls, one each
        self.calls: list[tuple[str, dict]] = []
        self.reached = threading.Event()
        self.more: queue.Queue[tuple[float, Event]] = queue.Queue()

    def __call__(self, *args):
        """(plan, listener, cancel) as apply_plan, or (set_path, mapping, listener) as
        verify_targets; recorded as (set_path, mapping) either way."""
        cancel = args[-1] if isinstance(args[-1], threading.Event) else None
        *given, listener = args[:-1] if cancel is not None else args
        if isinstance(given[0], Plan):
            plan = given[0]
            given = [plan.set_path, {d.source: d.target.path for d in plan.disks}]
        set_path, mapping = given
        self.calls.append((set_path, dict(mapping)))
        for at, event in self.events:
            self.clock.value = at
            listener(event)
        if self.errors:
            raise self.errors.pop(0)
        self.reached.set()
        last = self.events[-1] if self.events else None
        while self.hold:
            if cancel is not None and cancel.is_set():
                raise CANCELLED
            try:
                last = self.more.get(timeout=0.05)
            except queue.Empty:
                pass
            if last is not None:
                self.clock.value = last[0]
                listener(last[1])
        return self.result


def restore_events(start: float = 1000.0) -> list[tuple[float, Event]]:
    return [
        (start, Message("Checking the archives (presence, size, BLAKE3)")),
        (start, StepStarted(2, 27, "Create a new gpt partition table on /dev/sda")),
        (start + 1, StepStarted(8, 27, "Make ext4 on partition 2 (30.0 GiB)")),
        (start + 1, Message("Making ext4 on /dev/sda2 (UUID b78accea-3066-42e2-856f-"
                            "72644944526b, label root)")),
        (start + 2, StepStarted(19, 27, "Restore filesystem 2 (ext4 /)")),
        (start + 2, Progress("Restoring ext4 /", bytes_done=0, bytes_total=int(6.5 * GiB),
                             files_total=182345)),
        (start + 42, Progress("Restoring ext4 /", bytes_done=int(2.6 * GiB),
                              bytes_total=int(6.5 * GiB), files_done=73012, files_total=182345,
                              current="/usr/share/locale/de/LC_MESSAGES/coreutils.mo")),
    ]


# / holds the mount points /home and /srv: restored, but under the filesystems mounted there,
# so the comparison cannot check them.
RESTORED = RestoreResult(entries=318679, bytes=int(51.2 * GiB), images=1, image_bytes=512 * MiB,
                         seconds=612.0, log_copy="/var/log/restore-console",
                         filesystems=["partition 1 (no filesystem)", "ext4 /", "swap", "ext4 /home",
                                      "xfs /srv"])
VERIFIED = VerifyResult(checked=318677, covered=2, bytes_hashed=int(51.2 * GiB))
VERIFIED_WITH_DIFFERENCES = VerifyResult(
    checked=318677, covered=2, bytes_hashed=int(51.2 * GiB),
    differences=[Difference("/etc/machine-id", "content differs (BLAKE3)"),
                 Difference("/var/log/restore-console.log", "size 8211, expected 7302")])


class FakeMount:
    """mounted_targets for the shell on the done screen: a real directory, entered and left."""

    def __init__(self, directory: str):
        self.directory = directory
        self.entered = self.left = 0

    def __call__(self, backup_set, mapping):
        fake = self

        class _Context:
            def __enter__(self):
                fake.entered += 1
                return fake.directory

            def __exit__(self, *exc):
                fake.left += 1
                return False

        return _Context()


def load_stage_set(path: str):
    """The real manifest of tests/functional/data/web-01, said to be at WEB01."""
    backup_set = load_set(WEB01_FILES if path == WEB01 else path)
    if path == WEB01:
        backup_set.path = WEB01
    return backup_set


def stage_core(clock: Clock | None = None, **overrides) -> Core:
    clock = clock or Clock()
    core = Core(load_set=load_stage_set, find_sets=lambda: [], open_found=lambda found: found.where,
                discover_targets=lambda set_path, images: list(TARGETS),
                block_monitor=lambda: None, now=lambda: NOW, clock=clock,
                is_root=lambda: True, run_shell=Calls(), reboot=Calls(),
                find_places=lambda backup_set, images: [],
                existing_into=lambda backup_set, selections, into: Existing(),
                existing_in_place=lambda backup_set, selections, mapping: Existing(),
                apply_plan=Scripted(clock, restore_events(), RESTORED),
                verify_targets=Scripted(clock, [(1612.0, Message("Comparing"))], VERIFIED))
    for name, value in overrides.items():
        setattr(core, name, value)
    return core


def stage_app(core: Core | None = None, *, theme: str | None = "textual-dark", **kwargs) -> RestoreApp:
    kwargs.setdefault("log_path", LOG_PATH)
    return RestoreApp(kwargs.pop("set_path", WEB01), theme=theme, core=core or stage_core(),
                      **kwargs)


async def to_review(pilot, key: str = "w") -> None:
    """From the start screen: the targets (w, or c for the editor), then the review (n)."""
    await pilot.press(key)
    await pilot.pause()
    await pilot.press("n")
    await pilot.pause()


async def confirm(pilot, text: str) -> None:
    """On the review: the target names typed, then Enter."""
    await pilot.press(*text)
    await pilot.press("enter")
    await pilot.pause()


async def restore_to_done(pilot, typed: str = "sda sdb", seconds: float = 20.0) -> None:
    """From the start screen: the whole machine restored onto the suggested targets, confirmed
    with `typed`, up to the done screen."""
    from console.tui.screens.done import DoneScreen
    await to_review(pilot)
    await confirm(pilot, typed)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DoneScreen), "the done screen",
                   seconds)


async def restore_held_running(pilot, restore, typed: str = "sda sdb") -> None:
    """From the start screen: the whole machine restored onto the suggested targets, confirmed
    with `typed`, until the scripted restore (a Scripted with hold=True) has sent its events."""
    await to_review(pilot)
    await confirm(pilot, typed)
    await wait_for(pilot, restore.reached.is_set, "the scripted events")


async def picker_after_the_restore(pilot):
    """From the done screen: back to the start (b), then "Restore selected files" (f)."""
    from console.tui.screens.file_picker import FilePickerScreen
    await pilot.press("b")
    await pilot.pause()
    await pilot.press("f")
    await pilot.pause()
    assert isinstance(pilot.app.screen, FilePickerScreen)
    return pilot.app.screen


async def wait_for(pilot, condition, what: str, seconds: float = 20.0) -> None:
    """Lets the app run until condition() holds (a worker thread is involved)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await pilot.pause(0.02)
    await pilot.pause()


def error(message: str = "Could not mount /dev/sda2 (ext4): wrong fs type, bad option, bad "
          "superblock on /dev/sda2", hint: str = "The log has the full output.") -> RestoreError:
    return RestoreError(message, hint)


def offered_choices(app) -> list[str]:
    """The ids of the choices the error dialog on top offers, in order."""
    choices = app.screen.query_one(OptionList)
    return [choices.get_option_at_index(i).id for i in range(choices.option_count)]


class FailingStep:
    """apply_plan whose step 8 fails `failures` times; each time it asks, as the real restore
    does, and acts on the answer: retry runs the step again, abort raises its error."""

    def __init__(self, clock: Clock, failures: int = 1):
        self.clock, self.failures = clock, failures
        self.calls = 0
        self.answers: list[str] = []

    def __call__(self, plan, listener, cancel=None):
        self.calls += 1
        for at, event in restore_events()[:4]:
            self.clock.value = at
            listener(event)
        while self.failures:
            self.failures -= 1
            answer = ask(listener, step_failed(8, 27, "Make ext4 on partition 2 (30.0 GiB)",
                                               error("mkfs.ext4 failed on /dev/sda2"), None))
            self.answers.append(answer)
            if answer != RETRY:
                raise error("mkfs.ext4 failed on /dev/sda2")
        return RESTORED


class Asking:
    """apply_plan that reports the first events, then asks `question` and waits for its
    answer; it keeps the answers."""

    def __init__(self, clock: Clock, question):
        self.clock, self.question = clock, question
        self.answers: list[str] = []

    def __call__(self, plan, listener, cancel=None):
        for at, event in restore_events()[:4]:
            self.clock.value = at
            listener(event)
        self.answers.append(ask(listener, self.question()))
        return RESTORED
