"""The console driven by key presses only, over the real core, on the demo set and its disk-image
targets: a complete restore, a comparison, the shell in the restored system, a cancelled
restore. The results are judged with independent tools (sfdisk, blkid, rsync, losetup)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
from pathlib import Path

import pytest
from textual.widgets import OptionList

from console import demo
from console.core.applying.restore import apply_plan as real_apply_plan
from console.core.events import Progress
from console.tui.app import RestoreApp
from console.tui.facade import Core
from console.tui.screens.done import DoneScreen
from console.tui.screens.mapping import MappingScreen
from console.tui.screens.progress import ProgressScreen
from console.tui.screens.review import ReviewScreen
from console.tui.screens.targets import TargetsScreen
from tests.functional.screentext import shown
from tests.functional.stage import Calls, picker_after_the_restore, restore_to_done, wait_for
from tests.system.hardtree import rsync_differences
from tests.system.images import attached, blkid_of, mounted, sfdisk_json
from widgets.file_tree import FileTree

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def demo_base(tmp_path_factory) -> str:
    """The demo set, made once for this module in a directory of its own."""
    base = str(tmp_path_factory.mktemp("demo"))
    demo.prepare(base, listener=lambda event: None)
    return base


@pytest.fixture
def paths(demo_base) -> dict[str, str]:
    demo.prepare(demo_base, listener=lambda event: None)  # blank targets for each test
    return demo.demo_paths(demo_base)


@pytest.fixture
def log_file(tmp_path):
    """The log, as the command line sets it up (the restore copies it into the target)."""
    path = tmp_path / "restore-console.log"
    handler = logging.FileHandler(path)
    logger = logging.getLogger("restore_console")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield path
    logger.removeHandler(handler)
    handler.close()


def loops_backing(image: str) -> str:
    return subprocess.run(["losetup", "-j", image], capture_output=True, text=True).stdout


def mounts() -> set[str]:
    with open("/proc/self/mounts") as f:
        return {line.split()[1] for line in f}


def the_app(paths, log_file, **core) -> RestoreApp:
    return RestoreApp(paths["set"], theme="textual-dark", core=Core(**core),
                      log_path=str(log_file), target_images=demo.demo_targets(paths["dir"]),
                      demo=True)



def assert_same_filesystems_and_trees(source: Path, target: Path) -> None:
    """Same UUID, label and type on partitions 2-4; the ext4 trees equal under rsync."""
    with attached(source, read_only=True) as original, attached(target, read_only=True) as restored:
        for number in (2, 3, 4):
            want, got = blkid_of(original.partition(number)), blkid_of(restored.partition(number))
            assert (got.get("UUID"), got.get("LABEL"), got.get("TYPE")) == \
                (want.get("UUID"), want.get("LABEL"), want.get("TYPE"))
        for number in (2, 3):
            with mounted(original.partition(number), "ext4", "ro,noload") as src, \
                    mounted(restored.partition(number), "ext4", "ro,noload") as dst:
                assert rsync_differences(src, dst) == []

async def test_restore_onto_a_disk_image_by_key_presses_then_compare_and_shell(paths, log_file):
    target = paths["same"]
    seen_in_shell = {}

    def shell(argv, cwd, env):
        root = Path(cwd)
        seen_in_shell.update(cwd=cwd, target=env.get("RESTORE_CONSOLE_TARGET"),
                             hostname=(root / "etc/hostname").read_text(),
                             alice=(root / "home/alice").is_dir(),
                             mounts=sorted(m for m in mounts() if m.startswith(cwd)))
        return 0

    app = the_app(paths, log_file, run_shell=shell)
    before = mounts()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w")
        await pilot.pause()
        assert app.screen.chosen == {app.backup_set.disks[0].name: target}
        options = app.screen.query_one(OptionList)
        # Larger and smaller images take the layout resized; nothing else is offered.
        assert [options.get_option_at_index(i).id for i in range(options.option_count)] == \
            [paths["same"], paths["larger"], paths["smaller"]]
        larger = " ".join(str(options.get_option(paths["larger"]).prompt).split())
        assert larger == (f"( ) target-larger.img: 512.0 MiB image file {paths['larger']} "
                          "the partitions are resized: 256.0 MiB -> 512.0 MiB")
        assert not options.get_option(paths["smaller"]).disabled
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"target-same-size.img", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the restore",
                       seconds=300)
        text = shown(app)
        assert "The machine is restored" in text, text
        assert "Comparison with the set:" in text and "no differences" in text

        # The expert shell opens in the restored system, / and /home mounted, and unmounts.
        await pilot.press("s")
        await pilot.pause()
        assert seen_in_shell["hostname"] == "demo-server\n"
        cwd = seen_in_shell["cwd"]
        assert seen_in_shell["alice"] and seen_in_shell["mounts"] == [cwd, cwd + "/home"]
        assert seen_in_shell["target"] == cwd
        assert mounts() - before == set() and not os.path.exists(cwd)

        # Compare the restored image with the set, again by keys.
        await pilot.press("b")
        await pilot.pause()
        await pilot.press("v")
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        options.highlighted = options.get_option_index(target)
        await pilot.press("enter", "n")
        await pilot.pause()
        await pilot.press("enter")  # comparing writes nothing: no name to type
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the comparison",
                       seconds=300)
        assert "The comparison is done" in shown(app)
        assert "no differences" in shown(app)

    assert loops_backing(target) == "" and mounts() - before == set()
    # Independent checks: the table as sfdisk reads it, identifiers as blkid reads them, and
    # every file as rsync compares it with the source disk.
    source_table = sfdisk_json(paths["source"])["partitiontable"]
    target_table = sfdisk_json(target)["partitiontable"]
    for key in ("label", "id"):
        assert target_table[key] == source_table[key]
    strip = lambda parts: [{k: v for k, v in p.items() if k != "node"} for p in parts]  # noqa: E731
    assert strip(target_table["partitions"]) == strip(source_table["partitions"])
    assert_same_filesystems_and_trees(Path(paths["source"]), Path(target))


async def test_a_file_lost_after_the_restore_goes_back_to_its_original_place(paths, log_file):
    """Whole restore onto the image, then /etc/hostname deleted there; the picker offers the
    image just restored (found again by UUID among the demo's images: offered once) and the
    original disk, the demo's source image; the real restore in place puts the file back."""
    target = paths["same"]
    app = the_app(paths, log_file)
    before = mounts()
    async with app.run_test(size=(120, 40)) as pilot:
        await restore_to_done(pilot, "target-same-size.img", seconds=300)
        assert "The machine is restored" in shown(app)
        with attached(Path(target)) as disk, mounted(disk.partition(2), "ext4") as root:
            (root / "etc/hostname").unlink()
        picker = await picker_after_the_restore(pilot)
        source = app.backup_set.disks[0].name  # the demo's source image
        assert [(p.title, p.note, p.mapping) for p in picker.places] == [
            ("target-same-size.img (as source-disk.img)", "just restored", {source: target}),
            ("source-disk.img (as source-disk.img)", "", {source: source})]
        picker.query_one("#picker-place").value = 0  # two places: the operator chooses
        tree = picker.query_one(FileTree)
        await pilot.press("slash", *"hostname", "enter")
        await pilot.pause()
        for _ in range(5):
            if tree.cursor_row.entry.path == b"/etc/hostname":
                break
            await pilot.press("n")
        assert tree.cursor_row.entry.path == b"/etc/hostname"
        await pilot.press("space", "ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the file restore",
                       seconds=120)
        text = shown(app)
        assert "The files are restored" in text, text
        assert "into the original place on target-same-size.img (as source-disk.img) in " \
            in text
        assert f"into ext4 / on {target}, partition 2" in text
    assert loops_backing(target) == ""
    # Mounts made meanwhile by others on this shared machine are not ours to judge.
    assert {m for m in mounts() - before if "restore-console" in m} == set()
    with attached(Path(target), read_only=True) as disk, \
            mounted(disk.partition(2), "ext4", "ro,noload") as root:
        assert (root / "etc/hostname").read_text() == "demo-server\n"


async def test_a_cancelled_restore_stops_and_leaves_nothing_attached_or_mounted(paths, log_file):
    reached, go_on = threading.Event(), threading.Event()

    def gated_restore(plan, listener, cancel):
        """The real restore; its first file-progress report waits until the test has
        cancelled, so the cancel lands in the middle of the restore every time."""
        def gated(event):
            if isinstance(event, Progress) and event.step.startswith("Restoring") \
                    and not go_on.is_set():
                reached.set()
                go_on.wait(60)
            listener(event)
        return real_apply_plan(plan, gated, cancel)

    verify = Calls()
    app = the_app(paths, log_file, apply_plan=gated_restore, verify_targets=verify)
    before = mounts()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, TargetsScreen)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"target-same-size.img", "enter")
        await wait_for(pilot, reached.is_set, "the restore to be extracting files", seconds=120)
        assert isinstance(app.screen, ProgressScreen)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert app.screen.cancel_requested.is_set()
        assert "Cancelling" in shown(app)
        go_on.set()
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the cancel",
                       seconds=120)
        text = " ".join(shown(app).split())
        # The core's words on the state: tables written, /home not begun, how to go on (18
        # steps: the finalize rewrites the references to disks since).
        assert re.search(r"The restore was cancelled (in|after) step \d+ of 18", text), text
        assert "the partition table of target-same-size.img is written" in text
        assert "ext4 /home is not restored yet" in text
        assert "Run the same restore again: it resumes after what is done." in text
    assert verify.calls == []
    assert loops_backing(paths["same"]) == ""
    assert mounts() - before == set()


async def test_clone_onto_the_larger_image_with_root_edited_by_key_presses(paths, log_file):
    target = paths["larger"]
    app = the_app(paths, log_file)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, MappingScreen)
        # Suggested: the image of the same size; Enter, down, Enter: the larger one instead.
        await pilot.press("enter", "down", "enter")
        await pilot.pause()
        assert app.screen.chosen == {app.backup_set.disks[0].name: target}
        # Root (partition 2) set to 300 MiB; home shares the rest, swap and BIOS boot keep theirs.
        await pilot.press("tab", "down", "s", *"300M", "enter")
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        plan = app.screen.job.plan
        await pilot.press(*"target-larger.img", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the restore",
                       seconds=300)
        text = shown(app)
        assert "The machine is restored" in text, text
        assert "no differences" in text

    assert loops_backing(target) == ""
    # sfdisk reads the edited layout: exactly the plan's, root 300 MiB, home grown.
    table = sfdisk_json(target)["partitiontable"]
    assert table["sectorsize"] == 512
    # An image's partitions are named after the file: target-larger.img1, ...img2.
    found = {int(p["node"].removeprefix(target)): (p["start"] * 512, p["size"] * 512)
             for p in table["partitions"]}
    planned = {p.number: (p.start, p.size) for p in plan.disks[0].layout.partitions}
    assert found == planned
    MiB = 1024 * 1024
    assert found[2][1] == 300 * MiB
    assert found[1][1] == 1 * MiB and found[4][1] == 32 * MiB
    assert found[3][1] > 70 * MiB
    assert_same_filesystems_and_trees(Path(paths["source"]), Path(target))


async def test_a_loop_device_attached_while_the_editor_is_open_appears_then_goes(paths, log_file,
                                                                                  tmp_path):
    """Hot-plug with the real pyudev monitor and the real discovery: a disk image attached to
    a loop device is a disk arriving; detaching it, the disk leaving."""
    image = tmp_path / "plugged.img"
    with open(image, "wb") as f:
        f.truncate(300 * 1024 * 1024)
    app = RestoreApp(paths["set"], theme="textual-dark", core=Core(), log_path=str(log_file))
    loop = ""
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("c")
            await pilot.pause()
            editor = app.screen
            assert isinstance(editor, MappingScreen)
            await wait_for(pilot, lambda: any(w.group == "hot-plug" and w.is_running
                                              for w in app.workers), "the hot-plug worker")
            machine = editor.query_one("#machine", OptionList)

            def listed() -> list[str]:
                return [machine.get_option_at_index(i).id for i in range(machine.option_count)]

            loop = subprocess.run(["losetup", "--find", "--show", str(image)], check=True,
                                  capture_output=True, text=True).stdout.strip()
            await wait_for(pilot, lambda: loop in listed(), f"{loop} in the list", seconds=30)
            # The row says it short; highlighted, the line under the lists names its file.
            assert str(machine.get_option(loop).prompt).startswith(f"( ) {loop[5:]}: "
                                                                    "300.0 MiB loop device")
            machine.focus()
            machine.highlighted = machine.get_option_index(loop)
            await pilot.pause()
            assert f"loop device of {image}" in " ".join(
                str(editor.query_one("#detail").render()).split())
            subprocess.run(["losetup", "-d", loop], check=True)
            await wait_for(pilot, lambda: loop not in listed(), f"{loop} gone from the list",
                           seconds=30)
            loop = ""
    finally:
        if loop:
            subprocess.run(["losetup", "-d", loop], check=False)
