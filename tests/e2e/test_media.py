"""Media with the real kernel drivers, in the rescue system under QEMU: a set on ISO volumes in
a virtual CD drive whose discs are changed through QMP while nuke mode waits for them (another
set's volume offered first, refused and ejected); a tape drive served by tgt over iSCSI, seen
by the guest's st driver as /dev/nst0, backed up to and restored from inside the rescue
system. Each restored disk is checked on the host with sfdisk and rsync."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.e2e.rescuevm import (
    SOURCE_MIB,
    fill_source,
    rescue_machine,
    wait_for_screen_with,
)
from tests.e2e.test_rescue import BOOT_TIMEOUT, SCREEN_TIMEOUT, assert_restored, blank
from tests.e2e.tgt import missing_for_tgt, tape_target
from tests.e2e.vm import Cdrom, Disk, VmError
from tests.system.clitool import cli
from tests.system.images import make_one_ext4_disk

pytestmark = pytest.mark.system  # loop devices and mount on the host

VOLUME_SIZE = "1500K"  # the small source's set on four discs
RESTORE_TIMEOUT = 900
CD_DRIVE = "drive1"  # QEMU's name of the CD: the drives are numbered disks first


def iso_set(source: Path, out: Path) -> tuple[str, list[Path]]:
    proc = cli("backup", "--disk", str(source), "--iso", str(out), "--volume-size", VOLUME_SIZE)
    assert proc.returncode == 0, proc.stderr
    volumes = sorted(out.glob("*.iso"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return header_of(volumes[0])["set_id"], volumes


def header_of(volume: Path) -> dict:
    """The volume header, read with xorriso's osirrox (an independent reader)."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["osirrox", "-indev", str(volume), "-extract",
                        "/restore-console-volume.json", f"{out}/header.json"],
                       capture_output=True, check=True)
        return json.loads(Path(out, "header.json").read_text())


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("media")
    source = base / "source.img"
    make_one_ext4_disk(source, SOURCE_MIB, fill_source)
    ours, volumes = iso_set(source, base / "ours")
    theirs, other = iso_set(source, base / "theirs")  # the same disk again: another set
    assert len(volumes) >= 3 and ours != theirs
    planned_target = blank(base / "planned.img", SOURCE_MIB)
    proc = cli("plan", str(volumes[0]), "--map", f"{source}={planned_target}", "--json")
    assert proc.returncode == 0, proc.stderr
    planned = json.loads(proc.stdout)["disks"][0]["resized"]["disk"]
    return {"source": source, "ours": (ours, volumes), "theirs": (theirs, other),
            "planned": planned}


def change_disc(vm, volume: Path) -> None:
    """The disc in the CD drive replaced through QMP, as an operator would change it; a tray
    the guest holds locked for a moment is tried again."""
    for _ in range(30):
        try:
            vm.qmp("blockdev-change-medium", device=CD_DRIVE, filename=str(volume),
                   format="raw", **{"read-only-mode": "read-only"})
            return
        except VmError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(1)
    raise VmError(f"the CD drive stayed locked; {volume.name} could not be put in")


def test_iso_volumes_in_a_cd_drive_changed_through_qmp_while_nuke_mode_waits_for_each(
        rescue_system, media, tmp_path):
    ours, volumes = media["ours"]
    theirs, other = media["theirs"]
    target = blank(tmp_path / "target.img", SOURCE_MIB)
    machine = rescue_machine(Path(rescue_system.directory), tmp_path / "vm", [Disk(target)],
                             "restore=nuke restore.media=cd restore.volume_wait=600 "
                             "restore.after=poweroff")
    machine = replace(machine, cdroms=(Cdrom(volumes[0]),))
    with machine.running() as vm:
        console = vm.console
        # init hands the drive itself to the console, unmounted, so that it can eject it
        console.wait_for("restore-console: found the set /dev/sr0 on /dev/sr0",
                         timeout=BOOT_TIMEOUT)
        console.wait_for("restore-console: nuke mode, the set /dev/sr0 onto the suggested "
                         "disks", timeout=BOOT_TIMEOUT)
        console.wait_for(re.compile(rf"Insert volume 2 of the set {ours} \(labelled "
                                    rf"\S+-2, volume id RC_\w+_2, of {len(volumes)} volumes\) "
                                    r"into /dev/sr0, then retry\. Waiting up to 600 seconds"),
                         timeout=RESTORE_TIMEOUT)
        # ejected: the tray is open (and stays so: the drive is not opened in a way that
        # would close it again)
        console.wait_for("There is no disc in /dev/sr0 (its tray is open).",
                         timeout=SCREEN_TIMEOUT)
        change_disc(vm, other[1])  # another set's volume 2 first
        console.wait_for(f"/dev/sr0 holds volume 2 of {len(other)} of set {theirs}",
                         timeout=SCREEN_TIMEOUT)
        console.wait_for("another set.", timeout=SCREEN_TIMEOUT)
        console.wait_for("There is no disc in /dev/sr0 (its tray is open).",
                         timeout=SCREEN_TIMEOUT)  # ejected again
        change_disc(vm, volumes[1])
        for number in range(3, len(volumes) + 1):
            console.wait_for(f"Insert volume {number} of the set {ours}",
                             timeout=RESTORE_TIMEOUT)
            change_disc(vm, volumes[number - 1])
        console.wait_for("restore-console: nuke mode done.", timeout=RESTORE_TIMEOUT)
        console.wait_for("restore-console: poweroff now", timeout=SCREEN_TIMEOUT)
        vm.wait_exit(timeout=SCREEN_TIMEOUT)
    log = machine.serial_log.read_text(errors="replace")
    assert log.count("another set.") == 1  # said once, not at every look
    assert_restored(media["source"], target, media["planned"])


def test_a_tape_served_by_tgt_over_iscsi_is_backed_up_to_and_restored_from_in_the_rescue(
        rescue_system, media, tmp_path):
    if why := missing_for_tgt():
        pytest.skip(why)
    source = media["source"]
    target = blank(tmp_path / "target.img", SOURCE_MIB)
    with tape_target(tmp_path / "tgt") as tape:
        blank_tape = tape.image.stat().st_size
        machine = rescue_machine(Path(rescue_system.directory), tmp_path / "vm",
                                 [Disk(source, snapshot=True), Disk(target)],
                                 "restore=expert restore.media=tape")
        machine = replace(machine, extra_args=tape.qemu_args())
        with machine.running() as vm:
            console = vm.console
            console.wait_for("restore-console: expert mode: a shell; the console is "
                             "'restore-console --set /dev/nst0'.", timeout=BOOT_TIMEOUT)
            time.sleep(1)
            assert console.run("echo ready", timeout=SCREEN_TIMEOUT).output.endswith("ready\n")
            seen = console.run("dmesg | grep -c 'Attached scsi tape st0'; ls /dev/nst0",
                               timeout=SCREEN_TIMEOUT).output
            assert seen == "1\n/dev/nst0\n"  # the st driver's, not a fake
            backup = console.run("restore-console backup --disk /dev/vda --tape /dev/nst0 "
                                 "--staging /tmp 2>&1", timeout=RESTORE_TIMEOUT)
            assert "onto /dev/nst0 (1 volume)" in backup.output
            inspected = console.run("restore-console inspect /dev/nst0", timeout=SCREEN_TIMEOUT)
            assert "of host e2e-source" in inspected.output
            restore = console.run("restore-console restore /dev/nst0 --map /dev/vda=/dev/vdb "
                                  "--yes 2>&1", timeout=RESTORE_TIMEOUT)
            assert "every file matched" in restore.output, restore.output
            console.send_line("sync; poweroff -f")
            vm.wait_exit(timeout=SCREEN_TIMEOUT)
        assert tape.image.stat().st_size > blank_tape + 1024 * 1024  # the set went onto tape
    assert_restored(source, target, media["planned"])


def test_a_disc_put_in_while_the_console_finds_no_set_is_found_by_itself(
        rescue_system, media, tmp_path):
    """No udev in the rescue system: the kernel's own polling of the drive (set by init) must
    tell the console's hot-plug monitor that a disc went in; no key is pressed for it."""
    ours, volumes = media["ours"]
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank/README").write_text("not a set\n")
    blank_disc = tmp_path / "blank.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-o", str(blank_disc),
                    str(tmp_path / "blank")], check=True, capture_output=True)
    target = blank(tmp_path / "target.img", SOURCE_MIB)
    machine = rescue_machine(Path(rescue_system.directory), tmp_path / "vm", [Disk(target)],
                             "restore.media=cd")
    machine = replace(machine, cdroms=(Cdrom(blank_disc),))
    with machine.running() as vm:
        console = vm.console
        console.wait_for("restore-console: no backup set found (cd)", timeout=BOOT_TIMEOUT)
        console.wait_for("'exit' goes on with the boot.", timeout=SCREEN_TIMEOUT)
        time.sleep(1)
        console.send_line("exit")  # the console then starts without a set and looks for one
        wait_for_screen_with(console, "No backup set found")
        change_disc(vm, volumes[0])
        wait_for_screen_with(console, "One backup set found: Enter opens it.",
                             f"set {ours[:8]} on CD/DVD drive /dev/sr0")
        console.press("Enter")
        wait_for_screen_with(console, "Backup of e2e-source", "[q] Quit")
