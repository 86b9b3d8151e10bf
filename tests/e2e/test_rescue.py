"""The real rescue system (restore-console mkrescue) booted in QEMU with -m 768 and driven over
its serial console: it finds the set on a disk by itself and shows the console; the expert
shell runs every tool the core declares; a whole-machine restore by keys and an unattended one
(restore=nuke) write a target disk that is then checked on the host with sfdisk and rsync.

The source disk, its set and the disk holding the set are made once for the module."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from console.core.rescue.tools import declared_tools
from tests.e2e.rescuevm import (
    FIRST_SCREEN,
    MEMORY_MIB,
    SCREEN_TIMEOUT,
    SOURCE_HOST,
    SOURCE_MIB,
    make_source_and_set_disk,
    rescue_machine,
    wait_for_screen_with,
)
from tests.e2e.vm import Disk
from tests.system.clitool import cli
from tests.system.hardtree import rsync_differences
from tests.system.images import MiB, attached, mounted, sfdisk_json
from tests.system.test_rescue_image import VERSION_OPTION

pytestmark = pytest.mark.system  # loop devices and mount on the host

BOOT_TIMEOUT = 300  # kernel start to the console: about 15 s idle, several times that loaded
LARGER_MIB = 96
VT220 = "vt220"
STAGES = ("mounted proc, sys, dev, run", "inserted the essential modules",
          "found the set /media/set on /dev/vda", "the tools are in the initrd",
          "inserted the modules the hardware needs", "starting the console")
# Where the restore leaves its log and its plan in the restored system.
RESTORE_RECORDS = "var/log/restore-console"


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    source, set_disk = make_source_and_set_disk(tmp_path_factory.mktemp("rescue-images"))
    return {"source": source, "set_disk": set_disk}


def blank(path: Path, mib: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(mib * MiB)
    return path


def set_disk(images) -> Disk:
    # snapshot: whatever the guest did to it stays out of the module's image.
    return Disk(images["set_disk"], snapshot=True)


def planned_layout(set_disk_image: Path, source: Path, target_mib: int, tmp: Path) -> dict:
    """The layout the planner gives the source on a blank disk of target_mib, asked on the
    host (`plan --json`) with the set disk mounted read-only."""
    target = blank(tmp / "planned-target.img", target_mib)
    with mounted(str(set_disk_image), "ext4", "ro,noload") as media:
        proc = cli("plan", str(media), "--map", f"{source}={target}", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["disks"][0]["resized"]["disk"]


def assert_restored(source: Path, target: Path, planned: dict) -> None:
    """The target's table is the source's (label, disk id, types, names, UUIDs) at the planned
    places and sizes; each filesystem's tree equals the source's under rsync -naHAX
    --checksum (what the restore adds, its records, is no difference to rsync)."""
    want, got = sfdisk_json(source)["partitiontable"], sfdisk_json(target)["partitiontable"]
    assert (got["label"], got["id"]) == (want["label"], want["id"])
    sector = got["sectorsize"]
    assert len(got["partitions"]) == len(want["partitions"]) == len(planned["partitions"])
    for mine, theirs, plan in zip(got["partitions"], want["partitions"], planned["partitions"]):
        for key in ("type", "uuid", "name"):
            assert mine.get(key) == theirs.get(key), key
        assert (mine["start"] * sector, mine["size"] * sector) == (plan["start"], plan["size"])
    assert got["partitions"][-1]["size"] > want["partitions"][-1]["size"] or \
        target.stat().st_size == source.stat().st_size
    with attached(source, read_only=True) as original, attached(target, read_only=True) as restored:
        for number in range(1, len(want["partitions"]) + 1):
            with mounted(original.partition(number), "ext4", "ro,noload") as src, \
                    mounted(restored.partition(number), "ext4", "ro,noload") as dst:
                assert rsync_differences(src, dst) == []
                assert (dst / RESTORE_RECORDS).is_dir()  # the log went into the restored system


def wait_for_stages(console) -> None:
    """Each stage line of init, in the boot order (each wait looks after the previous match)."""
    for stage in STAGES:
        console.wait_for(f"restore-console: {stage}", timeout=BOOT_TIMEOUT)


def test_the_rescue_boots_to_the_console_with_the_set_found_help_on_f1_and_quitting_offers_a_shell(
        rescue_system, images, tmp_path):
    machine = rescue_machine(Path(rescue_system.directory), tmp_path / "vm", [set_disk(images)])
    with machine.running() as vm:
        console = vm.console
        wait_for_stages(console)
        # The serial theme's letter keys in the footer.
        screen = wait_for_screen_with(console, *FIRST_SCREEN, timeout=BOOT_TIMEOUT)
        assert "Set " in screen and "in /media/set" in screen
        assert not re.search(r"[^\x00-\x7f]", screen)  # vt220: ASCII only
        for key in ("F1", "?"):
            console.press(key, terminal=VT220)
            wait_for_screen_with(console, "F1 or ?    Help", "Esc closes this help.")
            console.press("Escape", terminal=VT220)
            console.wait_for_screen(re.compile(r"^(?!.*Esc closes this help).*\[q\] Quit", re.S),
                                    timeout=SCREEN_TIMEOUT)
        console.press("q", terminal=VT220)
        console.wait_for("[c]onsole again, [s]hell, [r]eboot, [p]ower off?",
                         timeout=SCREEN_TIMEOUT)
        console.send_line("s")
        time.sleep(1)  # the shell's first prompt
        assert console.run("echo $((6 * 7)); cat /proc/cmdline", timeout=SCREEN_TIMEOUT
                           ).output.startswith("42\nconsole=ttyS0,115200")


def test_expert_mode_is_a_shell_where_inspect_and_every_declared_tool_run(
        rescue_system, images, tmp_path):
    machine = rescue_machine(Path(rescue_system.directory), tmp_path / "vm", [set_disk(images)],
                             "restore=expert")
    with machine.running() as vm:
        console = vm.console
        console.wait_for("restore-console: expert mode: a shell; the console is "
                         "'restore-console --set /media/set'.", timeout=BOOT_TIMEOUT)
        time.sleep(1)
        assert console.run("echo ready", timeout=SCREEN_TIMEOUT).output.endswith("ready\n")
        inspected = console.run("restore-console inspect /media/set", timeout=SCREEN_TIMEOUT)
        assert SOURCE_HOST in inspected.output and "ext4" in inspected.output
        # Each declared tool: the tool itself (no busybox applet link), and it runs. By its
        # path: this busybox's ash runs its own applet of a name first (standalone shell).
        tools = sorted(declared_tools())
        loop = " ".join(f"{tool}:{VERSION_OPTION.get(tool, '--version')}" for tool in tools)
        ran = console.run(
            f"for t in {loop}; do p=$(ls /usr/sbin/${{t%%:*}} /usr/bin/${{t%%:*}} 2>/dev/null | head -n 1); "
            "if [ -z \"$p\" ] || [ -L \"$p\" ]; then echo \"tool ${t%%:*} missing\"; "
            "else \"$p\" ${t#*:} >/dev/null 2>&1; echo \"tool ${t%%:*} $?\"; fi; done",
            timeout=SCREEN_TIMEOUT).output
        results = dict(re.findall(r"^tool (\S+) (\S+)$", ran, re.MULTILINE))
        assert results == {tool: "0" for tool in tools}
        imported = console.run(
            "python3 -c 'import console.cli, textual.app, parted, blake3, zstandard, pyudev; "
            "print(\"imported\")'", timeout=SCREEN_TIMEOUT).output
        assert imported == "imported\n"
        memory = console.run("free -m", timeout=SCREEN_TIMEOUT).output
        total, used, _, shared, _, available = map(int, re.search(
            r"^Mem:" + r"\s+(\d+)" * 6, memory, re.MULTILINE).groups())
        # The kernel, the initramfs unpacked in RAM (shared: about 90 MiB) and init: the
        # rest of 768 MiB is the restore's.
        assert available > total // 2, memory
        print(f"\nrescue memory after boot (-m {MEMORY_MIB}): {memory}")


def test_a_whole_machine_restore_by_keys_over_the_serial_console_onto_a_larger_ahci_disk(
        rescue_system, images, tmp_path):
    target = blank(tmp_path / "target.img", LARGER_MIB)
    planned = planned_layout(images["set_disk"], images["source"], LARGER_MIB, tmp_path)
    machine = rescue_machine(Path(rescue_system.directory), tmp_path / "vm",
                             [set_disk(images), Disk(target, interface="ahci")])
    with machine.running() as vm:
        console = vm.console
        wait_for_screen_with(console, *FIRST_SCREEN, timeout=BOOT_TIMEOUT)
        console.press("w", terminal=VT220)
        mapping = wait_for_screen_with(console, "the partitions are resized", "Press n to review")
        assert re.search(rf"\(\*\) sda: {LARGER_MIB}\.0 MiB", mapping), mapping
        assert "the partitions are resized: 64.0 MiB -> 96.0 MiB" in mapping
        console.press("n", terminal=VT220)
        review = wait_for_screen_with(console, "/dev/sda: 96.0 MiB", "type the name",
                                      "Nothing has been written.")
        assert "/dev/sda: 96.0 MiB" in review
        name = re.search(r"To overwrite (\S+), type the name", review).group(1)
        assert name == "sda"
        console.type(name)
        console.press("Enter", terminal=VT220)
        console.wait_for_screen("The machine is restored", timeout=900)
        wait_for_screen_with(console, "The machine is restored", "no differences")
        console.press("q", terminal=VT220)
        console.wait_for("[p]ower off?", timeout=SCREEN_TIMEOUT)
        console.send_line("p")
        vm.wait_exit(timeout=SCREEN_TIMEOUT)
    assert_restored(images["source"], target, planned)


def test_restore_nuke_restores_unattended_with_plain_progress_lines_and_powers_off(
        rescue_system, images, tmp_path):
    target = blank(tmp_path / "target.img", SOURCE_MIB)
    planned = planned_layout(images["set_disk"], images["source"], SOURCE_MIB, tmp_path)
    machine = rescue_machine(Path(rescue_system.directory), tmp_path / "vm",
                             [set_disk(images), Disk(target)],
                             "restore=nuke restore.after=poweroff")
    with machine.running() as vm:
        console = vm.console
        wait_for_stages(console)
        console.wait_for("restore-console: nuke mode, the set /media/set onto the suggested "
                         "disks", timeout=BOOT_TIMEOUT)
        console.wait_for("receives original disk", timeout=SCREEN_TIMEOUT)
        console.wait_for(re.compile(r"\[1/\d+\] "), timeout=SCREEN_TIMEOUT)
        console.wait_for("restore-console: nuke mode done.", timeout=900)
        console.wait_for("restore-console: poweroff now", timeout=SCREEN_TIMEOUT)
        vm.wait_exit(timeout=SCREEN_TIMEOUT)
        raw = bytes(console.received)
    # Plain lines, as the serial line carried them: no escape sequence, no carriage return
    # that would draw over a line.
    nuke_output = raw.split(b"restore-console: nuke mode, the set", 1)[1].split(
        b"restore-console: nuke mode done.", 1)[0]
    assert b"receives original disk" in nuke_output
    assert b"\x1b" not in nuke_output and b"\r" not in nuke_output.replace(b"\r\n", b"\n")
    assert_restored(images["source"], target, planned)
