"""LVM restored by the real rescue system in QEMU (the host has no device-mapper): the Debian
installer's layout (/boot on a partition; /, swap and /home in one volume group) is made in
the guest on a virtio disk, backed up there with `restore-console backup`, the source wiped,
and restored with `restore-console restore` onto a larger and onto a smaller disk. One boot
for all of it. Checked on the host from what the guest wrote to a disk of its own: the group,
PV and LV UUIDs and names (lvs and pvs JSON), the filesystems' UUIDs and labels (blkid), the
LV sizes as the plan said, and every file (type, mode, owner, size, mtime, links, SHA-256;
the rescue image has no rsync, busybox find/stat/sha256sum list the trees)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.rescuevm import make_source_and_set_disk, rescue_machine
from tests.e2e.vm import Disk
from tests.system.images import MiB, mounted

pytestmark = pytest.mark.system  # loop devices and mount on the host

BOOT_TIMEOUT = 300
STEP_TIMEOUT = 900  # a backup or a restore under TCG on shared cores
SOURCE_MIB = 400
TARGETS = {"vdd": 600, "vde": 300}  # larger, smaller: the data still fits
SCRIPTS = Path(__file__).parent / "stack"


def blank(path: Path, mib: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(mib * MiB)
    return path


def work_disk(path: Path) -> Path:
    """An ext4 disk with the guest's scripts; the guest writes the set and its findings there."""
    blank(path, 256)
    subprocess.run(["mkfs.ext4", "-q", "-L", "work", str(path)], check=True)
    with mounted(str(path)) as root:
        for script in SCRIPTS.glob("*.sh"):
            shutil.copy(script, root / script.name)
    return path


def lvs_of(text: str) -> dict[str, dict[str, str]]:
    return {row["lv_name"]: row for row in json.loads(text)["report"][0]["lv"]}


def test_an_lvm_layout_is_restored_onto_a_larger_and_a_smaller_disk_with_its_uuids(
        rescue_system, tmp_path):
    (tmp_path / "set").mkdir()
    _, set_disk = make_source_and_set_disk(tmp_path / "set")  # init finds a set there
    work = work_disk(tmp_path / "work.img")
    disks = [Disk(set_disk, snapshot=True), Disk(work), Disk(blank(tmp_path / "source.img",
                                                                   SOURCE_MIB))]
    disks += [Disk(blank(tmp_path / f"{name}.img", mib)) for name, mib in TARGETS.items()]
    machine = rescue_machine(Path(rescue_system.directory), tmp_path / "vm", disks,
                             "restore=expert")
    with machine.running() as vm:
        console = vm.console
        console.wait_for("restore-console: expert mode", timeout=BOOT_TIMEOUT)
        console.run("echo ready", timeout=60)
        # device-mapper is there: init loads it for LVM and LUKS
        console.run("test -c /dev/mapper/control && mkdir -p /work && mount /dev/vdb /work",
                    timeout=60)
        console.run("sh /work/make-source.sh /dev/vdc", timeout=STEP_TIMEOUT)
        console.run("sh /work/list-source.sh /dev/vdc /work/source", timeout=STEP_TIMEOUT)
        backup = console.run("restore-console backup --disk /dev/vdc --to /work/set 2>&1",
                             timeout=STEP_TIMEOUT)
        assert "Volume group vg0: 3 logical volumes on 1 physical volume" in backup.output
        # The source machine is gone: its group must not meet the restored one.
        console.run("lvm vgchange -q -an vg0 && wipefs -q -a /dev/vdc2 /dev/vdc", timeout=60)
        for name in TARGETS:
            console.run(f"restore-console plan /work/set --map /dev/vdc=/dev/{name} --json "
                        f">/work/plan-{name}.json", timeout=STEP_TIMEOUT)
            restored = console.run(f"restore-console restore /work/set --map /dev/vdc=/dev/{name}"
                                   f" --yes --on-failure abort >/work/restore-{name}.txt 2>&1",
                                   timeout=STEP_TIMEOUT, check=False)
            assert restored.status == 0, console.run(f"tail -n 25 /work/restore-{name}.txt",
                                                     timeout=60).output
            console.run(f"lvm vgchange -q -ay vg0 && sh /work/list-source.sh /dev/{name} "
                        f"/work/{name}", timeout=STEP_TIMEOUT)
            console.run(f"lvm vgchange -q -an vg0 && wipefs -q -a /dev/{name}2", timeout=60)
        console.run("umount /work && sync", timeout=60)
        console.send_line("poweroff -f")
        vm.wait_exit(timeout=120)
    with mounted(str(work), "ext4", "ro") as found:
        source_lvs = lvs_of((found / "source.lvs").read_text())
        source_pvs = json.loads((found / "source.pvs").read_text())["report"][0]["pv"]
        manifest = json.loads((found / "set/manifest.json").read_text())
        for name in TARGETS:
            plan = json.loads((found / f"plan-{name}.json").read_text())
            restored = lvs_of((found / f"{name}.lvs").read_text())
            # Names, UUIDs and tags kept; the group's UUID too.
            assert {lv: (r["lv_uuid"], r["vg_uuid"], r["lv_tags"]) for lv, r in
                    restored.items()} == {lv: (r["lv_uuid"], r["vg_uuid"], r["lv_tags"])
                                          for lv, r in source_lvs.items()}, name
            pvs = json.loads((found / f"{name}.pvs").read_text())["report"][0]["pv"]
            assert [p["pv_uuid"] for p in pvs] == [p["pv_uuid"] for p in source_pvs]
            assert [p["pv_name"] for p in pvs] == [f"/dev/{name}2"]
            # Sizes as planned: swap_1 kept, root and home as the plan's group says.
            planned = {d["name"]: d["new_size"] for d in plan["groups"][0]["decisions"]}
            assert {lv: int(r["lv_size"]) for lv, r in restored.items()} == planned, name
            assert planned["swap_1"] == int(source_lvs["swap_1"]["lv_size"])
            grows = TARGETS[name] > SOURCE_MIB
            assert (planned["root"] > int(source_lvs["root"]["lv_size"])) == grows, planned
            # The filesystems with their UUIDs and labels, the files as they were.
            source_ids = (found / "source.blkid").read_text().replace("/dev/vdc1", "BOOT")
            assert (found / f"{name}.blkid").read_text().replace(f"/dev/{name}1", "BOOT") == \
                source_ids
            for tree in ("boot", "root", "home"):
                assert (found / f"{name}.{tree}").read_text() == \
                    (found / f"source.{tree}").read_text(), (name, tree)
    # The manifest has the stack, and the LV filesystems in it.
    [group] = manifest["stack"]["volume_groups"]
    assert group["name"] == "vg0" and "logical_volumes" in group["metadata"]
    on = {fs["on"] for fs in manifest["filesystems"] if fs.get("on")}
    assert on == {"lv:vg0/root", "lv:vg0/swap_1", "lv:vg0/home"}


PASSPHRASE = "restore e2e passphrase"
LUKS_SOURCE_MIB = 300


def test_lvm_on_luks_is_restored_with_the_passphrase_typed_and_refused_in_words_without(
        rescue_system, tmp_path):
    (tmp_path / "set").mkdir()
    _, set_disk = make_source_and_set_disk(tmp_path / "set")
    work = work_disk(tmp_path / "work.img")
    with mounted(str(work)) as root:
        (root / "passphrase").write_text(PASSPHRASE)  # the guest's source and its checks
    target = blank(tmp_path / "target.img", 400)
    disks = [Disk(set_disk, snapshot=True), Disk(work),
             Disk(blank(tmp_path / "source.img", LUKS_SOURCE_MIB)), Disk(target)]
    machine = rescue_machine(Path(rescue_system.directory), tmp_path / "vm", disks,
                             "restore=expert")
    with machine.running() as vm:
        console = vm.console
        console.wait_for("restore-console: expert mode", timeout=BOOT_TIMEOUT)
        console.run("echo ready", timeout=60)
        console.run("mkdir -p /work && mount /dev/vdb /work", timeout=60)
        console.run("sh /work/make-luks-source.sh /dev/vdc", timeout=STEP_TIMEOUT)
        # The container is open, as on a running system: the backup asks nothing.
        backup = console.run("restore-console backup --disk /dev/vdc --to /work/set 2>&1",
                             timeout=STEP_TIMEOUT)
        assert "open as vdc2_crypt" in backup.output
        console.run("sh /work/list-luks.sh /dev/vdc /work/source", timeout=STEP_TIMEOUT)
        console.run("wipefs -q -a /dev/vdc2 /dev/vdc", timeout=60)
        # Nobody to type the passphrase: refused in words, the target untouched.
        refused = console.run("restore-console restore /work/set --map /dev/vdc=/dev/vdd "
                              "--yes </dev/null 2>&1", timeout=STEP_TIMEOUT, check=False)
        assert refused.status == 1, refused.output
        assert "No passphrase was given for the LUKS container vdc2_crypt" in refused.output
        assert "Nothing was written." in refused.output
        console.run("test -z \"$(dd if=/dev/vdd bs=1M count=8 2>/dev/null | tr -d '\\000' "
                    "| head -c 1)\"", timeout=60)
        # Typed over the serial console, read without echo.
        console.send_line("restore-console restore /work/set --map /dev/vdc=/dev/vdd --yes "
                          "--on-failure abort >/work/restore-luks.txt; echo @DONE@$?@")
        console.wait_for("Passphrase for the LUKS container vdc2_crypt", timeout=STEP_TIMEOUT)
        console.wait_for("Passphrase: ", timeout=60)
        console.send_line(PASSPHRASE)
        status = console.wait_for(re.compile(r"@DONE@(\d+)@"), timeout=STEP_TIMEOUT)
        assert status.group(1) == "0", console.run("tail -n 20 /work/restore-luks.txt",
                                                   check=False).output
        console.run("sh /work/list-luks.sh /dev/vdd /work/vdd", timeout=STEP_TIMEOUT)
        # The console's log of this boot, to look for the passphrase in it.
        console.run("cat /var/log/restore-console.log /tmp/restore-console.log "
                    ">/work/console.log 2>/dev/null; test -s /work/console.log", timeout=60)
        console.run("umount /work && sync", timeout=60)
        console.send_line("poweroff -f")
        vm.wait_exit(timeout=120)
    serial = machine.serial_log.read_text(errors="replace")
    assert PASSPHRASE not in serial.split("Passphrase: ", 1)[1]  # not echoed
    with mounted(str(work), "ext4", "ro") as found:
        assert (found / "vdd.luks-blkid").read_text() == (found / "source.luks-blkid").read_text()
        source_luks = json.loads((found / "source.luks-json").read_text())
        restored_luks = json.loads((found / "vdd.luks-json").read_text())
        assert restored_luks["segments"]["0"]["encryption"] == \
            source_luks["segments"]["0"]["encryption"]
        assert restored_luks["keyslots"]["0"]["key_size"] == \
            source_luks["keyslots"]["0"]["key_size"]
        source_lvs, restored = (lvs_of((found / f"{n}.lvs").read_text())
                                for n in ("source", "vdd"))
        assert {lv: (r["lv_uuid"], r["vg_uuid"]) for lv, r in restored.items()} == \
            {lv: (r["lv_uuid"], r["vg_uuid"]) for lv, r in source_lvs.items()}
        assert (found / "vdd.pvs").read_text() == (found / "source.pvs").read_text()
        assert (found / "vdd.blkid").read_text().replace("/dev/vdd1", "BOOT") == \
            (found / "source.blkid").read_text().replace("/dev/vdc1", "BOOT")
        for tree in ("boot", "root"):
            assert (found / f"vdd.{tree}").read_text() == (found / f"source.{tree}").read_text()
        manifest = (found / "set/manifest.json").read_text()
        assert PASSPHRASE not in manifest
        log = (found / "console.log").read_text(errors="replace")
        assert "asked: Passphrase for the LUKS container vdc2_crypt" in log
        assert PASSPHRASE not in log


MIRROR_MEMBER_MIB = 200
MIRROR_TARGET_MIB = 400


def test_a_raid1_of_two_disks_is_restored_onto_one_larger_disk_as_a_degraded_mirror(
        rescue_system, tmp_path):
    (tmp_path / "set").mkdir()
    _, set_disk = make_source_and_set_disk(tmp_path / "set")
    work = work_disk(tmp_path / "work.img")
    disks = [Disk(set_disk, snapshot=True), Disk(work),
             Disk(blank(tmp_path / "member1.img", MIRROR_MEMBER_MIB)),
             Disk(blank(tmp_path / "member2.img", MIRROR_MEMBER_MIB)),
             Disk(blank(tmp_path / "target.img", MIRROR_TARGET_MIB))]
    machine = rescue_machine(Path(rescue_system.directory), tmp_path / "vm", disks,
                             "restore=expert")
    with machine.running() as vm:
        console = vm.console
        console.wait_for("restore-console: expert mode", timeout=BOOT_TIMEOUT)
        console.run("echo ready", timeout=60)
        console.run("mkdir -p /work && mount /dev/vdb /work", timeout=60)
        console.run("sh /work/make-mirror-source.sh /dev/vdc /dev/vdd", timeout=STEP_TIMEOUT)
        console.run("sh /work/list-mirror.sh /dev/md0 /work/source", timeout=STEP_TIMEOUT)
        backup = console.run("restore-console backup --disk /dev/vdc --disk /dev/vdd "
                             "--to /work/set 2>&1", timeout=STEP_TIMEOUT)
        assert "md array /dev/md0: raid1, metadata 1.2" in backup.output
        console.run("mdadm --stop /dev/md0 && wipefs -q -a /dev/vdc1 /dev/vdd1 /dev/vdc /dev/vdd",
                    timeout=60)
        console.run("restore-console plan /work/set --map /dev/vdc=/dev/vde --map /dev/vdd= "
                    "--json >/work/plan.json", timeout=STEP_TIMEOUT)
        console.run("restore-console restore /work/set --map /dev/vdc=/dev/vde --map /dev/vdd= "
                    "--yes --on-failure abort >/work/restore.txt 2>&1", timeout=STEP_TIMEOUT)
        console.run("mdadm --assemble --run /dev/md0 /dev/vde1 && "
                    "sh /work/list-mirror.sh /dev/md0 /work/vde", timeout=STEP_TIMEOUT)
        console.run("umount /work && sync", timeout=60)
        console.send_line("poweroff -f")
        vm.wait_exit(timeout=120)
    with mounted(str(work), "ext4", "ro") as found:
        source = dict(line.split("=", 1) for line in (found / "source.md").read_text().split())
        restored = dict(line.split("=", 1) for line in (found / "vde.md").read_text().split())
        for key in ("MD_LEVEL", "MD_DEVICES", "MD_METADATA", "MD_UUID", "MD_NAME"):
            assert restored[key] == source[key], key
        detail = (found / "vde.md-detail").read_text()
        assert "degraded" in detail and "Active Devices : 1" in detail, detail
        assert (found / "vde.blkid").read_text() == (found / "source.blkid").read_text()
        assert (found / "vde.root").read_text() == (found / "source.root").read_text()
        plan = json.loads((found / "plan.json").read_text())
        [create] = [s for s in plan["steps"] if s["action"] == "create-array"]
        assert create["detail"]["members"] == ["/dev/vde:1", "missing"]
        # mdadm picks its data offset by the member's size and rounds the array down to
        # 64 KiB: the plan's size is the estimate from the source's overhead, less a margin
        made = int((found / "vde.size").read_text()) * 512
        assert create["detail"]["size"] <= made < create["detail"]["size"] + 2 * MiB
        assert create["detail"]["size"] > int((found / "source.size").read_text()) * 512
