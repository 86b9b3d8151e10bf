"""A volume group made again from metadata the console writes, with LVM's own tools on loop
devices: the group, PV and LV UUIDs, names and tags kept, the LVs at their planned sizes,
checked with `lvs --reportformat json`. This host has no device-mapper: nothing is activated
(the VM tests make filesystems in the LVs); LVM writes and reads its metadata without it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from console.core.errors import RestoreError
from console.core.layout import LogicalVolume, PhysicalVolume, VolumeGroup
from console.core.volumes.lvm import (
    LV_FIELDS,
    create_physical_volume,
    group_metadata,
    metadata_text,
    report_rows,
    restore_group,
)

pytestmark = [pytest.mark.system,
              pytest.mark.skipif(os.geteuid() != 0 or shutil.which("lvm") is None,
                                 reason="needs root and lvm2 (make deps)")]
MiB = 1024 * 1024
E = 4 * MiB


def lvm(*args: str) -> str:
    return subprocess.run(["lvm", *args], check=True, capture_output=True, text=True,
                          env={**os.environ, "LVM_SUPPRESS_FD_WARNINGS": "1"}).stdout


@contextlib.contextmanager
def loop_devices(tmp_path: Path, *sizes_mib: int):
    devices = []
    try:
        for index, size in enumerate(sizes_mib):
            image = tmp_path / f"pv{index}.img"
            with open(image, "wb") as f:
                f.truncate(size * MiB)
            devices.append(subprocess.run(["losetup", "--show", "-f", str(image)], check=True,
                                          capture_output=True, text=True).stdout.strip())
        yield devices
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            lvm("vgremove", "-ff", "-y", "restoretest")
        for device in devices:
            subprocess.run(["lvm", "pvremove", "-ff", "-y", device], capture_output=True)
            subprocess.run(["losetup", "-d", device], check=True)


def source_group() -> VolumeGroup:
    return VolumeGroup(name="restoretest", uuid="Ab1234-cdEF-5678-ghIJ-9012-klMN-345678",
                       extent_size=E, size=200 * MiB, extents=50, tags=["site"],
                       pvs=[PhysicalVolume(uuid="Pv0000-aaaa-bbbb-cccc-dddd-eeee-000000",
                                           device="/dev/sda2", on="part:/dev/sda:2",
                                           size=200 * MiB, pe_start=MiB),
                            PhysicalVolume(uuid="Pv1111-aaaa-bbbb-cccc-dddd-eeee-111111",
                                           device="/dev/sdb1", on="part:/dev/sdb:1",
                                           size=100 * MiB, pe_start=MiB)],
                       lvs=[LogicalVolume("root", "Lv0000-aaaa-bbbb-cccc-dddd-eeee-000000",
                                          100 * MiB, "linear"),
                            LogicalVolume("swap_1", "Lv1111-aaaa-bbbb-cccc-dddd-eeee-111111",
                                          20 * MiB, "linear"),
                            LogicalVolume("home", "Lv2222-aaaa-bbbb-cccc-dddd-eeee-222222",
                                          60 * MiB, "linear", tags=["backup"])])


def test_a_group_made_from_the_written_metadata_keeps_its_uuids_at_the_planned_sizes(tmp_path):
    group = source_group()
    # root grows beyond the first PV: its second segment is on the other one
    sizes = {"root": 180 * MiB, "swap_1": 20 * MiB, "home": 100 * MiB}
    with loop_devices(tmp_path, 200, 120) as (first, second):
        devices = {group.pvs[0].uuid: (first, 200 * MiB), group.pvs[1].uuid: (second, 120 * MiB)}
        with tempfile.NamedTemporaryFile("w", suffix=".vgcfg") as f:
            f.write(group_metadata(group, devices, sizes))
            f.flush()
            for pv in group.pvs:
                create_physical_volume(pv.uuid, devices[pv.uuid][0], f.name)
            restore_group(group.name, f.name)
        lvs = report_rows(lvm("lvs", "--reportformat", "json", "--units", "b", "--nosuffix",
                              "-o", LV_FIELDS, group.name), "lv")
        vgs = json.loads(lvm("vgs", "--reportformat", "json", "-o", "vg_uuid,vg_tags,"
                             "vg_extent_size", "--units", "b", "--nosuffix", group.name))
        pvs = report_rows(lvm("pvs", "--reportformat", "json", "-o", "pv_name,pv_uuid",
                              first, second), "pv")
    found = {row["lv_name"]: row for row in lvs}
    assert {name: int(row["lv_size"]) for name, row in found.items()} == sizes
    assert {name: row["lv_uuid"] for name, row in found.items()} == \
        {lv.name: lv.uuid for lv in group.lvs}
    assert found["home"]["lv_tags"] == "backup"
    vg = vgs["report"][0]["vg"][0]
    assert (vg["vg_uuid"], vg["vg_tags"], int(vg["vg_extent_size"])) == (group.uuid, "site", E)
    assert {row["pv_name"]: row["pv_uuid"] for row in pvs} == \
        {first: group.pvs[0].uuid, second: group.pvs[1].uuid}


def test_volumes_that_do_not_fit_their_pvs_are_refused_in_words():
    group = source_group()
    devices = {group.pvs[0].uuid: ("/dev/x", 100 * MiB), group.pvs[1].uuid: ("/dev/y", 50 * MiB)}
    with pytest.raises(RestoreError, match="do not fit on its physical volumes"):
        group_metadata(group, devices, {"root": 180 * MiB})


def test_a_group_restored_from_its_saved_vgcfgbackup_text_is_the_same_group(tmp_path):
    """The path of a restore onto a disk of the same size: the set's vgcfgbackup text as it
    is, onto a fresh device (the old PV wiped)."""
    group = source_group()
    group.pvs = group.pvs[:1]
    sizes = {"root": 100 * MiB, "swap_1": 20 * MiB, "home": 60 * MiB}
    with loop_devices(tmp_path, 200) as (device,):
        devices = {group.pvs[0].uuid: (device, 200 * MiB)}
        with tempfile.NamedTemporaryFile("w", suffix=".vgcfg") as f:
            f.write(group_metadata(group, devices, sizes))
            f.flush()
            create_physical_volume(group.pvs[0].uuid, device, f.name)
            restore_group(group.name, f.name)
        saved = metadata_text(group.name)  # what a backup keeps in the set
        fields = "lv_name,lv_uuid,lv_size,seg_pe_ranges"
        before = lvm("lvs", "--reportformat", "json", "-o", fields, group.name)
        lvm("vgremove", "-ff", "-y", group.name)
        lvm("pvremove", "-ff", "-y", device)
        with tempfile.NamedTemporaryFile("w", suffix=".vgcfg") as f:
            f.write(saved)
            f.flush()
            create_physical_volume(group.pvs[0].uuid, device, f.name)
            restore_group(group.name, f.name)
        after = lvm("lvs", "--reportformat", "json", "-o", fields, group.name)
    assert json.loads(after) == json.loads(before)
    assert "Lv2222-aaaa-bbbb-cccc-dddd-eeee-222222" in after
