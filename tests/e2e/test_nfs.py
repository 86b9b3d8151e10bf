"""The set on an NFS share served by nfs-ganesha on the host's 127.0.0.1, reached by the rescue
system only through a QEMU guest forward (10.0.2.100:2049): init mounts it with restore.nfs=
(the kernel's own NFS 4 client, no mount.nfs helper), nuke mode restores from it onto the
machine's one empty disk, and the restored disk is checked on the host with sfdisk and rsync.
In the shell that follows, the console mounts the share itself (SERVER:/PATH as its SET)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.nfsserver import nfs_server
from tests.e2e.rescuevm import SOURCE_HOST, SOURCE_MIB, fill_source, rescue_machine
from tests.e2e.test_rescue import BOOT_TIMEOUT, SCREEN_TIMEOUT, assert_restored, blank
from tests.e2e.vm import FORWARD_ADDRESS, Disk, Network
from tests.system.clitool import cli, cli_backup
from tests.system.images import make_one_ext4_disk

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
    import json
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
            inspected = console.run(f"restore-console inspect nfs://{FORWARD_ADDRESS}{server.pseudo}"
                                    ",timeo=100 && grep -c ' nfs4 ' /proc/mounts",
                                    timeout=SCREEN_TIMEOUT)
            assert SOURCE_HOST in inspected.output and "ext4" in inspected.output, inspected
            # init's mount only: the console's own was undone when it ended
            assert inspected.output.rstrip().endswith("\n1"), inspected
            missing = console.run(f"restore-console inspect {FORWARD_ADDRESS}:/nothing-here; echo rc=$?",
                                  timeout=SCREEN_TIMEOUT)
            assert "exports no /nothing-here" in missing.output and "rc=1" in missing.output, \
                missing
            console.send_line("poweroff -f")
            vm.wait_exit(timeout=SCREEN_TIMEOUT)
    assert_restored(nfs_images["source"], target, planned)
