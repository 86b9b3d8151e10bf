"""The clone editor, the review and the plan as a new operator meets them on an 80x24 console,
on a set whose disk is named by a long image path (as the demo's is): short disk names with
the full one in a detail line, one row per partition, each message once, reasons whole, sizes
in IEC units, words an operator knows, and what happens to the boot loader."""

from __future__ import annotations

import re

from textual.widgets import OptionList

from console.core.disks.discovery import TargetDisk
from console.tui.screens.mapping import MappingScreen
from console.tui.screens.review import ReviewScreen
from tests.functional.scenes import SCENES
from tests.functional.screentext import screen_text, shown
from tests.functional.stage import stage_app, stage_core
from tests.unit.test_plan_words import DEMO, demo_like_set

MiB = 1024 ** 2
WORK = "/var/tmp/restore-console-demo"
IN_USE = f"/dev/loop0p2 is mounted at {WORK}/mnt/target-in-use-with-a-long-name"


def image(name: str, size: int, **kwargs) -> TargetDisk:
    return TargetDisk(path=f"{WORK}/{name}", name=name, size=size, logical_sector_size=512,
                      physical_sector_size=512, alignment=MiB, transport="file", is_image=True,
                      **kwargs)


TARGETS = [image("target-same-size.img", 256 * MiB), image("target-larger.img", 512 * MiB),
           image("target-smaller.img", 192 * MiB),
           image("target-in-use.img", 512 * MiB, mounted=[IN_USE])]


def demo_app():
    core = stage_core(load_set=lambda path: demo_like_set(),
                      discover_targets=lambda set_path, images: list(TARGETS))
    return stage_app(core, set_path="/media/set")


async def open_editor(pilot) -> MappingScreen:
    await pilot.press("c")
    await pilot.pause()
    assert isinstance(pilot.app.screen, MappingScreen)
    return pilot.app.screen


def lines(app) -> list[str]:
    return screen_text(app).splitlines()


async def test_at_80x24_disks_have_short_names_and_the_full_one_in_a_detail_line():
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_editor(pilot)
        originals = editor.query_one("#originals", OptionList)
        assert str(originals.get_option(DEMO).prompt) == \
            "source-disk.img 256.0 MiB\n  -> target-same-size.img"
        detail = " ".join(str(editor.query_one("#detail").render()).split())
        assert detail == f"Original disk {DEMO}: 256.0 MiB, GPT, 4 partitions"
        heading = "> source-disk.img 256.0 MiB -> target-same-size.img 256.0 MiB, as it was"
        assert any(line.strip() == heading for line in lines(app))  # one line, not cut
        await pilot.press("tab")  # to this machine's disks
        await pilot.pause()
        detail = " ".join(str(editor.query_one("#detail").render()).split())
        assert detail == ("This machine's disk target-same-size.img: 256.0 MiB image file "
                          f"{WORK}/target-same-size.img")
        # The original and the new layout on rows of their own, labelled.
        assert any(line.startswith(" Original ") for line in lines(app))
        assert any(line.startswith(" New ") for line in lines(app))


async def test_at_80x24_each_partition_is_one_row_and_a_reason_is_said_whole():
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_editor(pilot)
        partitions = editor.query_one("#partitions", OptionList)
        rows = [str(partitions.get_option_at_index(i).prompt)
                for i in range(partitions.option_count)]
        assert rows == [
            " 1 BIOS boot partition   1.0 MiB ->   1.0 MiB  copied as is",
            " 2 ext4 /              150.0 MiB -> 150.0 MiB  20.0 MiB used  kept",
            " 3 ext4 /home           70.0 MiB ->  70.0 MiB  2.0 MiB used  kept",
            " 4 swap                 32.0 MiB ->  32.0 MiB  kept"]
        await pilot.press("tab", "tab")
        await pilot.pause()
        for row in rows:  # each drawn on one line of the screen
            assert any(row.strip() in line for line in lines(app)), row
        # The target in use: its reason in full, on the lines under it.
        machine = editor.query_one("#machine", OptionList)
        machine.focus()
        machine.scroll_end(animate=False)
        await pilot.pause()
        assert f"in use: {IN_USE}" in str(machine.get_option(f"{WORK}/target-in-use.img").prompt)
        assert "use-with-a-long-name" in screen_text(app)  # wrapped on its own lines, not cut


async def test_a_smaller_target_says_kept_at_its_data_and_no_decimal_unit():
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_editor(pilot)
        await pilot.press("enter", "down", "down", "enter")
        await pilot.pause()
        assert editor.chosen[DEMO] == f"{WORK}/target-smaller.img"
        partitions = editor.query_one("#partitions", OptionList)
        rows = [str(partitions.get_option_at_index(i).prompt)
                for i in range(partitions.option_count)]
        assert rows[2].endswith("kept at its data + 10%")
        assert "floor" not in shown(app)


DECIMAL = re.compile(r"\d (kB|KB|MB|GB|TB)\b")


async def test_no_screen_of_the_stage_says_a_size_in_decimal_units():
    for name, (make_app, reach) in SCENES.items():
        app = make_app("textual-dark")
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                await reach(pilot)
                assert not DECIMAL.search(screen_text(app)), name
        finally:
            for screen in app.screen_stack:
                if hasattr(screen, "cancel_requested"):
                    screen.cancel_requested.set()


async def test_the_review_says_what_happens_to_the_boot_loader():
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_editor(pilot)
        await pilot.press("enter", "down", "enter", "n")  # onto the larger image
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        text = " ".join(str(app.screen.query_one("#review-text").render()).split())
        assert (f"Boot loader: {WORK}/target-larger.img: the BIOS boot partition (1) is copied "
                "as it was; the boot code of the first sector is not in the set (a GPT disk): "
                "BIOS cannot start grub from this disk until grub-install is run") in text
        # The demo-like set records no boot loader: the review says why grub is not installed.
        assert "The set found no boot loader on its disks: none is installed." in text
        assert "references to disks that changed are rewritten" in text
        assert not DECIMAL.search(text)
        assert "raw " not in text and "swap swap" not in text
