"""The disk-mapping editor driven by key presses on the fixed stage: a clone onto a larger disk
with a partition edited, refused edits in words, and disks plugged in and removed."""

from __future__ import annotations

from types import SimpleNamespace

from textual.widgets import OptionList

from console.tui.screens.done import DoneScreen
from console.tui.screens.mapping import MappingScreen
from console.tui.screens.review import ReviewScreen
from tests.functional.screentext import shown
from tests.functional.stage import (
    TARGETS,
    WEB01,
    FakeMonitor,
    GiB,
    MiB,
    disk,
    stage_app,
    stage_core,
    wait_for,
)
from widgets.partition_bar import LayoutComparison

SIZE = (120, 40)


def words(widget) -> str:
    return " ".join(str(widget.render()).split())


def prompt(options: OptionList, option_id: str) -> str:
    return " ".join(str(options.get_option(option_id).prompt).split())


async def open_editor(pilot) -> MappingScreen:
    await pilot.press("c")
    await pilot.pause()
    assert isinstance(pilot.app.screen, MappingScreen)
    return pilot.app.screen


async def test_the_suggested_mapping_is_applied_and_unusable_disks_say_why():
    app = stage_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot)
        assert editor.chosen == {"/dev/sda": "/dev/sda", "/dev/sdb": "/dev/sdb"}
        machine = editor.query_one("#machine", OptionList)
        assert machine.get_option("/dev/sdd").disabled
        assert prompt(machine, "/dev/sdd") == \
            "( ) sdd: 16.0 GiB USB DISK holds the backup set being restored"
        assert prompt(machine, "/dev/sdb").endswith("chosen for /dev/sdb")
        assert not machine.get_option("/dev/sdc").disabled  # larger: the layout fits
        # The second original disk: its data does not fit on the 40 GiB disks.
        await pilot.press("down")
        await pilot.pause()
        assert editor.disk.name == "/dev/sdb"
        assert machine.get_option("/dev/sde").disabled
        assert "The layout of /dev/sdb does not fit on a target of 40.0 GiB" in \
            prompt(machine, "/dev/sde")
        # Every disk says where it goes; the one at hand ('>', now sdb) shows its original
        # layout over the new one, the others only their heading.
        first, second = editor.query(LayoutComparison)
        assert str(first.heading.render()) == "  sda 40.0 GiB -> sda 40.0 GiB, as it was"
        assert str(second.heading.render()) == "> sdb 100.0 GiB -> sdb 100.0 GiB, as it was"
        assert second.has_class("current") and not first.has_class("current")
        assert first.has_class("collapsed") and not first.original.region.height
        assert second.new.region.y == second.original.region.bottom  # one over the other
        assert "The layouts fit. Press n to review the plan." in shown(app)


async def test_clone_onto_the_larger_disk_with_root_taking_the_rest():
    core = stage_core()
    app = stage_app(core)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot)
        # sda onto the 200 GiB sdc: Enter goes to the disks, down skips sdb (taken), Enter maps.
        await pilot.press("enter", "down", "enter")
        await pilot.pause()
        assert editor.chosen["/dev/sda"] == "/dev/sdc"
        # Without edits the partitions that can grow share the space in proportion.
        before = editor.planned(editor.disk).resized
        assert before.decision(4).new_size > 8 * GiB
        # To the partition list, root (partition 2), take the rest.
        await pilot.press("tab", "down", "r")
        await pilot.pause()
        assert "Partition 2 takes the rest: the layout is planned again." in shown(app)
        partitions = editor.query_one("#partitions", OptionList)
        assert "[takes the rest]" in prompt(partitions, "2")
        # The new layout under the original: root 30 GiB -> 190 GiB, most of the bar.
        comparison = editor.query_one("#comparison-0", LayoutComparison)
        assert str(comparison.heading.render()) == "> sda 40.0 GiB -> sdc 200.0 GiB, resized"
        assert comparison.new.render().plain.startswith("boot  ext4 /")
        assert prompt(partitions, "2").startswith("2 ext4 / 30.0 GiB -> 190.0 GiB")
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        plan = app.screen.job.plan
        (sda, sdb) = plan.disks
        assert (sda.source, sda.target.path) == ("/dev/sda", "/dev/sdc")
        layout = sda.resized
        original = app.backup_set.disk("/dev/sda")
        old = {p.number: p.size for p in original.partitions}
        new = {p.number: p for p in layout.disk.partitions}
        # Everything but root keeps its size; root takes the rest of the 200 GiB disk.
        assert new[1].size == old[1] and new[3].size == old[3]
        assert new[4].size == layout.decision(4).old_size == old[4]
        assert layout.decision(2).rule == "rest"
        assert new[2].size > 189 * GiB
        assert layout.unused < MiB
        review = words(app.screen.query_one("#review-text"))
        assert "/dev/sdc: 200.0 GiB (214,748,364,800 bytes), Samsung SSD 870, serial " \
               "S6PNNX0T receives original disk /dev/sda (chosen by you)" in review
        await pilot.press(*"sdc sdb", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        assert core.apply_plan.calls == [(WEB01, {"/dev/sda": "/dev/sdc",
                                                  "/dev/sdb": "/dev/sdb"})]


async def test_a_size_typed_for_a_partition_is_planned_at_once():
    app = stage_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot)
        await pilot.press("enter", "down", "enter", "tab", "down", "down", "down", "s")
        await pilot.press(*"20G", "enter")
        await pilot.pause()
        layout = editor.planned(editor.disk).resized
        assert layout.decision(4).new_size == 20 * GiB
        assert layout.decision(4).rule == "overridden"
        await pilot.press("p", *"25", "enter")
        await pilot.pause()
        layout = editor.planned(editor.disk).resized
        usable = layout.usable_end - layout.usable_start
        assert abs(layout.decision(4).new_size - usable // 4) <= MiB
        # Back to the automatic rule.
        await pilot.press("a")
        await pilot.pause()
        assert 4 not in editor.policy("/dev/sda").overrides


async def test_a_refused_edit_shows_its_words_and_blocks_the_review():
    core = stage_core()
    app = stage_app(core)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_editor(pilot)
        # Root of the 40 GiB disk set to 39 GiB: the other partitions no longer fit.
        await pilot.press("tab", "tab", "down", "s", *"39G", "enter")
        await pilot.pause()
        problems = words(editor.query_one("#layout-problems"))
        assert problems.startswith("/dev/sda on sda: The layout of /dev/sda does not fit on a "
                                   "target of 40.0 GiB (42,949,672,960 bytes)")
        assert "It fits on a target of at least" in problems
        # Said once, where it is: not again by the status line, the list of disks or the bar.
        assert shown(app).count("does not fit on a target of 40.0 GiB") == 1
        assert "sda 40.0 GiB -> sda 40.0 GiB, does not fit" in shown(app)
        assert "Partition 2 set to 39.0 GiB: the layout is planned again." in shown(app)
        assert "see below" not in shown(app) and "(see" not in shown(app)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, MappingScreen)
        assert "Not yet: /dev/sda on sda: The layout of /dev/sda does not fit" in shown(app)
        # An override that is no override at all is refused before it is tried.
        await pilot.press("p", *"150", "enter")
        await pilot.pause()
        assert "A percent override needs a value above 0 and at most 100, not 150.0." in \
            shown(app)
        await pilot.press("escape")
        await pilot.pause()
        assert editor.policy("/dev/sda").overrides[2].value == 39 * GiB
        # Back to automatic: it fits again and the review opens.
        await pilot.press("a")
        await pilot.pause()
        assert words(editor.query_one("#layout-problems")) == \
            "The layouts fit. Press n to review the plan."
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        assert core.apply_plan.calls == []


async def test_an_edit_needs_the_partition_list_and_a_mapped_disk():
    app = stage_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot)
        await pilot.press("r")
        await pilot.pause()
        assert "Move to the partition list (Tab) and choose a partition first." in shown(app)
        await pilot.press("enter", "end", "enter")  # sda: do not restore
        await pilot.pause()
        assert "/dev/sda" not in editor.chosen
        await pilot.press("tab", "r")
        await pilot.pause()
        assert "Choose a target for sda first." in shown(app)
        assert editor.policy("/dev/sda").overrides == {}


async def test_disks_plugged_in_and_removed_appear_and_disappear():
    monitor = FakeMonitor()
    machine_disks = list(TARGETS)
    core = stage_core(discover_targets=lambda set_path, images: list(machine_disks),
                      block_monitor=lambda: monitor)
    app = stage_app(core)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot)
        await wait_for(pilot, lambda: monitor.polls > 0, "the monitor to be watched")
        machine = editor.query_one("#machine", OptionList)
        ids = lambda: [machine.get_option_at_index(i).id for i in range(machine.option_count)]
        assert "/dev/sdf" not in ids()
        machine_disks.append(disk("sdf", 500 * GiB, "ST500DM002", "Z3T5ABCD"))
        monitor.events.put(SimpleNamespace(action="add", sys_name="sdf"))
        await wait_for(pilot, lambda: "/dev/sdf" in ids(), "the new disk in the list")
        assert "sdf was plugged in: the list of disks is read again." in shown(app)
        # Map sda onto it, then pull it out: the mapping is undone and said so.
        machine.focus()
        machine.highlighted = machine.get_option_index("/dev/sdf")
        await pilot.press("enter")
        await pilot.pause()
        assert editor.chosen["/dev/sda"] == "/dev/sdf"
        machine_disks.pop()
        monitor.events.put(SimpleNamespace(action="remove", sys_name="sdf"))
        await wait_for(pilot, lambda: "/dev/sdf" not in ids(), "the disk gone from the list")
        assert "/dev/sda" not in editor.chosen
        assert "sdf was removed: the list of disks is read again. No longer mapped: /dev/sda." \
            in shown(app)
        # Leaving the editor ends the watching worker.
        await pilot.press("escape")
        await wait_for(pilot, lambda: not [w for w in app.workers if w.group == "hot-plug"
                                           and w.is_running], "the hot-plug worker to end")
