"""The set on an NFS share served by nfs-ganesha on the host's 127.0.0.1, reached by the rescue
system only through a QEMU guest forward (10.0.2.100:2049): init mounts it with restore.nfs=
(the kernel's own NFS 4 client, no mount.nfs helper), nuke mode restores from it onto the
machine's one empty disk, and the restored disk is checked on the host with sfdisk and rsync.
In the shell that follows, the console mounts the share itself (SERVER:/PATH as its SET).

A fleet: two machines with their own MAC addresses boot the rescue system over the network
(iPXE from the card's ROM, QEMU's DHCP and TFTP), each gets its own plan from plans/map on the
share, the post hook marks each restored system, and both reports land in the share's logs/."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pytest

from console.core.rescue.boot import write_pxe
from tests.e2e.nfsserver import nfs_server
from tests.e2e.rescuevm import MEMORY_MIB, SOURCE_HOST, SOURCE_MIB, fill_source, rescue_machine
from tests.e2e.test_rescue import BOOT_TIMEOUT, SCREEN_TIMEOUT, assert_restored, blank
from tests.e2e.vm import FORWARD_ADDRESS, Disk, Machine, Network
from tests.system.clitool import cli, cli_backup
from tests.system.images import MiB, attached, make_one_ext4_disk, mounted, sfdisk_json

pytestmark = pytest.mark.system  # loop devices and mount on the host

RESTORE_TIMEOUT = 900


@pytest.fixture(scope="module")
def nfs_images(tmp_path_factory) -> dict[str, Path]:
    """The source disk and its set, at the root of the directory the server exports."""
    base = tmp_path_factory.mktemp("nfs-images")
    source, export = base / "source.img", base / "export"
    make_one_ext4_disk(source, SOURCE_MIB, fill_source)
    cli_backup(source, export)
    return {"source": source, "export": export}


def planned_on_host(export: Path, source: Path, tmp: Path) -> dict:
    target = blank(tmp / "planned.img", SOURCE_MIB)
    proc = cli("plan", str(export), "--map", f"{source}={target}", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["disks"][0]["resized"]["disk"]


def test_restore_nuke_from_an_nfs_share_through_a_guest_forward_and_the_console_mounts_it_too(
        rescue_system, nfs_images, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(nfs_images["export"], export)
    target = blank(tmp_path / "target.img", SOURCE_MIB)
    planned = planned_on_host(export, nfs_images["source"], tmp_path)
    with nfs_server(export, tmp_path / "ganesha") as server:
        machine = rescue_machine(
            Path(rescue_system.directory), tmp_path / "vm", [Disk(target)],
            f"restore=nuke restore.after=shell restore.nfs={server.share()}")
        machine.network = Network(guest_forwards=[server.forward()])
        with machine.running() as vm:
            console = vm.console
            console.wait_for(f"restore-console: found the set /media/set on {server.share()}",
                             timeout=BOOT_TIMEOUT)
            console.wait_for("restore-console: nuke mode, the set /media/set onto the "
                             "suggested disks", timeout=BOOT_TIMEOUT)
            console.wait_for("restore-console: nuke mode done.", timeout=RESTORE_TIMEOUT)
            console.wait_for("restore-console: expert shell", timeout=SCREEN_TIMEOUT)
            mounts = console.run("grep ' /media/set ' /proc/mounts", timeout=SCREEN_TIMEOUT)
            assert mounts.output.startswith(f"{server.share()} /media/set nfs4 ro,"), mounts
            # The console's own mount of the share, by name and with an option.
            by_url = f"nfs://{FORWARD_ADDRESS}{server.pseudo},timeo=100"
            inspected = console.run(f"restore-console inspect {by_url} && "
                                    "grep -c ' nfs4 ' /proc/mounts",
                                    timeout=SCREEN_TIMEOUT)
            assert SOURCE_HOST in inspected.output and "ext4" in inspected.output, inspected
            # init's mount only: the console's own was undone when it ended
            assert inspected.output.rstrip().endswith("\n1"), inspected
            missing = console.run(f"restore-console inspect {FORWARD_ADDRESS}:/nothing-here; "
                                  "echo rc=$?", timeout=SCREEN_TIMEOUT)
            assert "exports no /nothing-here" in missing.output and "rc=1" in missing.output, \
                missing
            console.send_line("poweroff -f")
            vm.wait_exit(timeout=SCREEN_TIMEOUT)
    assert_restored(nfs_images["source"], target, planned)


FLEET = {  # MAC -> (its disk's size in MiB, the size its plan gives partition 1 in MiB)
    "52:54:00:00:0a:01": (SOURCE_MIB, None),  # the same geometry
    "52:54:00:00:0a:02": (96, 70),  # a larger disk, partition 1 of 70 MiB by --part
}
POST_HOOK = 'echo "$RESTORE_MATCHED $RESTORE_PHASE" > "$RESTORE_ROOT/etc/fleet-marker"\n'


def fleet_plan(export: Path, source: Path, mib: int, part_mib: int | None, tmp: Path,
               name: str) -> None:
    """plans/NAME.json for a machine whose one disk is /dev/vda of mib: made on the host
    against an image of that size, then naming the machine's disk as the machine sees it (a
    plan names its targets by path; an image has no serial that would have to match)."""
    image = blank(tmp / f"{name}.img", mib)
    saved = export / "plans" / f"{name}.json"
    args = ["plan", str(export), "--map", f"{source}={image}", "--save", str(saved)]
    if part_mib:
        args += ["--part", f"{source}:1={part_mib}MiB"]
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr
    saved.write_text(saved.read_text().replace(str(image), "/dev/vda"))


def test_a_fleet_of_two_machines_each_restored_with_its_own_plan_from_the_map_on_the_share(
        rescue_system, nfs_images, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(nfs_images["export"], export)
    (export / "plans").mkdir()
    lines = []
    for number, (mac, (mib, part_mib)) in enumerate(FLEET.items(), 1):
        fleet_plan(export, nfs_images["source"], mib, part_mib, tmp_path, f"machine{number}")
        lines.append(f"{mac.upper()} machine{number}.json - post.sh")
    (export / "plans" / "post.sh").write_text(POST_HOOK)
    (export / "plans" / "map").write_text("# the fleet\n" + "\n".join(lines) + "\n")
    targets = {mac: blank(tmp_path / f"target-{n}.img", mib)
               for n, (mac, (mib, _)) in enumerate(FLEET.items(), 1)}
    with nfs_server(export, tmp_path / "ganesha") as server, contextlib.ExitStack() as stack:
        # What mkrescue writes in DIR/pxe/ (rescue.ipxe loading vmlinuz and initrd.img), with
        # the fleet's command line; QEMU's own DHCP and TFTP stand in for dnsmasq.
        rescue = Path(rescue_system.directory)
        write_pxe(str(tmp_path / "tftp"), str(rescue / "vmlinuz"), str(rescue / "initrd.img"),
                  ["restore=nuke", "restore.after=poweroff", f"restore.nfs={server.share()}"])
        running = {}
        for number, mac in enumerate(FLEET, 1):  # both at once: they share the server
            machine = Machine(
                workdir=tmp_path / f"vm{number}", memory_mib=MEMORY_MIB,
                disks=[Disk(targets[mac])],
                network=Network(guest_forwards=[server.forward()], mac=mac,
                                tftp=tmp_path / "tftp" / "pxe", bootfile="rescue.ipxe"),
                extra_args=("-boot", "n"))  # the card's iPXE ROM boots from the network
            running[mac] = stack.enter_context(machine.running())
        for mac, vm in running.items():
            vm.console.wait_for("rescue.ipxe : ", timeout=BOOT_TIMEOUT)  # iPXE got its script
            vm.console.wait_for(f"for {mac})", timeout=BOOT_TIMEOUT)
            vm.console.wait_for("restore-console: nuke mode done.", timeout=RESTORE_TIMEOUT)
            vm.wait_exit(timeout=SCREEN_TIMEOUT)
    reports = [json.loads(p.read_text()) for p in sorted((export / "logs").glob("*.json"))]
    assert sorted(r["matched"] for r in reports) == sorted(FLEET)
    assert all(r["ok"] and r["host"] == SOURCE_HOST for r in reports), reports
    assert len(list((export / "logs").glob("*.log"))) == 2
    for mac, target in targets.items():
        table = sfdisk_json(target)["partitiontable"]
        mib, part_mib = FLEET[mac]
        size = table["partitions"][0]["size"] * table["sectorsize"]
        assert size == (part_mib or SOURCE_MIB - 16) * MiB, (mac, table)
        with attached(target, read_only=True) as disk, \
                mounted(disk.partition(1), "ext4", "ro,noload") as root:
            assert (root / "etc/fleet-marker").read_text() == f"{mac} post\n"
