"""The start screen without --set: the sets found on the media listed with what each is and
where; the only one opened at once; another opened with Enter; none said in words, then a set
plugged in found by looking again (r) or by the hot-plug monitor."""

from __future__ import annotations

import pytest
from textual.widgets import OptionList

from console.core.backupset.found import FoundSet
from console.tui.screens import found_sets
from console.tui.screens.start import StartScreen
from tests.functional.screentext import shown
from tests.functional.stage import WEB01, FakeMonitor, stage_app, stage_core, wait_for

SIZE = (100, 30)
GiB = 1024 ** 3

ON_DISC = FoundSet("/dev/sr0", "CD/DVD drive /dev/sr0", "cd",
                   "9d8e7f60-0000-4000-8000-000000000002", "db-02", "2026-03-01T01:00:00+00:00",
                   7 * GiB, volume=1, volumes=3)
ON_STICK = FoundSet("/dev/sdb1:/sets/web-01", "partition sdb1 (USB)", "usb",
                    "4f1c2a3b-0000-4000-8000-000000000001", "web-01",
                    "2026-03-14T02:30:00+00:00", 3 * GiB, device="/dev/sdb1", fstype="ext4",
                    inside="sets/web-01")


class Opening:
    def __init__(self):
        self.calls = []

    def __call__(self, found):
        self.calls.append(found)
        return WEB01  # the stage's set, as if mounted read-only from the stick


def app_finding(*results, monitor=None):
    """An app started without a set whose searches find each of `results` in turn (the last
    one again after that)."""
    searches = []

    def find_sets():
        searches.append(len(searches))
        return list(results[min(len(searches), len(results)) - 1])

    opening = Opening()
    core = stage_core(find_sets=find_sets, open_found=opening,
                      block_monitor=lambda: monitor)
    return stage_app(core, set_path=None), searches, opening


async def test_the_sets_found_are_listed_with_host_date_size_and_media_and_enter_opens_one():
    app, searches, opening = app_finding([ON_DISC, ON_STICK])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "Backup sets found: 2" in shown(app), "the list")
        text = shown(app)
        assert ("db-02, made 2026-03-01T01:00:00+00:00, 7.0 GiB, volume 1 of 3" in text)
        assert "set 9d8e7f60 on CD/DVD drive /dev/sr0" in text
        assert "web-01, made 2026-03-14T02:30:00+00:00, 3.0 GiB" in text
        assert "set 4f1c2a3b on partition sdb1 (USB)" in text
        assert opening.calls == []  # two: the operator chooses
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: "Backup of web-01" in shown(app), "the set opened")
        assert opening.calls == [ON_STICK]
        assert app.set_path == WEB01 and app.backup_set.host == "web-01"
        assert isinstance(app.screen, StartScreen)
        assert "[w] Restore the whole machine" in shown(app)


async def test_the_only_set_found_is_opened_at_once():
    app, searches, opening = app_finding([ON_STICK])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.backup_set is not None, "the set opened")
        await pilot.pause()
        assert opening.calls == [ON_STICK]
        assert "Backup of web-01" in shown(app)


async def test_none_found_is_said_and_r_looks_again():
    app, searches, opening = app_finding([], [ON_DISC, ON_STICK])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "No backup set found" in shown(app), "the words")
        assert "start with --set PATH" in shown(app)
        await pilot.press("r")
        await wait_for(pilot, lambda: "Backup sets found: 2" in shown(app), "the list")
        assert len(searches) == 2 and opening.calls == []  # found by looking again: listed


async def test_a_disk_plugged_in_makes_it_look_again(monkeypatch):
    monkeypatch.setattr(found_sets, "SETTLE_SECONDS", 0.05)
    monitor = FakeMonitor()
    app, searches, opening = app_finding([], [ON_STICK], monitor=monitor)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "No backup set found" in shown(app), "the words")

        class Plugged:
            action, sys_name = "add", "sdb"

        monitor.events.put(Plugged())
        await wait_for(pilot, lambda: len(searches) == 2, "the search again")
        await wait_for(pilot, lambda: app.backup_set is not None or
                       app.screen.query(OptionList).first().option_count, "the set listed")
        # a set that appears later is listed, not opened behind the operator's back
        assert opening.calls == []
        assert "set 4f1c2a3b on partition sdb1 (USB)" in shown(app)
        assert "One backup set found: Enter opens it." in shown(app)  # not "opening it"


async def test_a_set_that_cannot_be_opened_is_said_in_words():
    from console.core.errors import RestoreError

    def refusing(found):
        raise RestoreError("The tape in /dev/nst0 holds no restore-console set.",
                           "Insert the first tape of the set.")

    core = stage_core(find_sets=lambda: [ON_DISC, ON_STICK], open_found=refusing)
    app = stage_app(core, set_path=None)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "Backup sets found: 2" in shown(app), "the list")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "cannot be opened" in shown(app), "the words")
        assert "holds no restore-console set" in " ".join(shown(app).split())
        assert app.backup_set is None


@pytest.fixture(autouse=True)
def _no_real_search(monkeypatch):
    """No test here looks at this machine's own media."""
    import console.tui.facade as facade
    monkeypatch.setattr(facade, "find_sets", lambda: pytest.fail("a real search"))
