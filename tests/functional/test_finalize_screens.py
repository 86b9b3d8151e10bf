"""The finalize on the screens: the review's F6 has the initramfs rebuilt, the done screen says
what was rewritten and installed, and what the finalize changed is not shown as a difference."""

from __future__ import annotations

from dataclasses import replace

from console.core.applying.verify import Difference
from console.core.planning.steps import RebuildInitramfs
from console.tui.screens.done import DoneScreen
from console.tui.screens.review import ReviewScreen
from tests.functional.screentext import shown
from tests.functional.stage import (
    RESTORED,
    VERIFIED,
    Clock,
    Scripted,
    confirm,
    restore_events,
    stage_app,
    stage_core,
    to_review,
    wait_for,
)

SIZE = (100, 40)
UUID = "5b7c2e44-1a2b-4c3d-9e8f-0123456789ab"


async def test_f6_in_the_review_has_the_initramfs_rebuilt_and_again_not():
    core = stage_core()
    app = stage_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        assert isinstance(app.screen, ReviewScreen)
        plan = app.screen.job.plan
        assert not any(isinstance(s, RebuildInitramfs) for s in plan.steps)
        await pilot.press("f6")
        await pilot.pause()
        assert isinstance(plan.steps[-2], RebuildInitramfs)
        review = " ".join(str(app.screen.query_one("#review-text").render()).split())
        assert "Rebuild the restored system's initramfs for every kernel" in review
        assert "The restored system's initramfs will be rebuilt (F6 again to change)" in \
            shown(app)
        await pilot.press("f6")
        await pilot.pause()
        assert not any(isinstance(s, RebuildInitramfs) for s in plan.steps)
        review = " ".join(str(app.screen.query_one("#review-text").render()).split())
        assert "The initramfs is not rebuilt (--rebuild-initramfs rebuilds it" in review


async def test_the_done_screen_says_what_the_finalize_did_and_keeps_it_out_of_the_differences():
    clock = Clock()
    finalized = replace(RESTORED, changes=[f"/etc/fstab line 1: /dev/sda2 -> UUID={UUID}"],
                        boot=["grub installed for BIOS on /dev/sda",
                              "grub's configuration made again"],
                        finalized=["/etc/fstab", "/boot/grub"],
                        log_copy="/var/log/restore-console")
    compared = replace(VERIFIED, differences=[
        Difference("/etc/fstab", "size 98 on disk, 66 in the set"),
        Difference("/boot/grub/grub.cfg", "content differs (BLAKE3)"),
        Difference("/etc/machine-id", "content differs (BLAKE3)")])
    core = stage_core(clock, apply_plan=Scripted(clock, restore_events(), finalized),
                      verify_targets=Scripted(clock, [], compared))
    app = stage_app(core)
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        await confirm(pilot, "sda sdb")
        await wait_for(pilot, lambda: isinstance(app.screen, DoneScreen), "the done screen")
        text = " ".join(shown(app).split())
        assert f"Rewritten: /etc/fstab line 1: /dev/sda2 -> UUID={UUID}" in text
        assert "Boot: grub installed for BIOS on /dev/sda" in text
        assert ("Changed by the finalize, as planned: 2 entries differ from the set "
                "(/boot/grub/grub.cfg, /etc/fstab).") in text
        assert "/etc/machine-id: content differs (BLAKE3)" in text
        assert "/etc/fstab: size" not in text
        assert "a copy is in the restored system, /var/log/restore-console/." in text
