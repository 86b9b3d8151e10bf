"""The stack's tools read from their own output (tests/unit/data/stack/README.md says where
each file came from), and the manifest's stack saved and loaded."""

from __future__ import annotations

import json
import pathlib

import pytest

from console.core.backupset.manifest import BackupSet, load_set
from console.core.errors import RestoreError
from console.core.layout import (
    Filesystem,
    Stack,
    parse_place,
    partition_of,
    partition_place,
    place_words,
)
from console.core.volumes.luks import parse_luks1, parse_luks2
from console.core.volumes.lvm import parse_groups, report_rows
from console.core.volumes.md import parse_detail

DATA = pathlib.Path(__file__).parent / "data" / "stack"
MiB = 1024 * 1024


def read(name: str) -> str:
    return (DATA / name).read_text()


def groups():
    return parse_groups(read("vgs.json"), read("pvs.json"), read("lvs.json"),
                        {"/dev/loop0": partition_place("/dev/sda", 2)})


def test_lvm_reports_give_the_group_its_pv_and_its_lvs_in_bytes():
    [group] = groups()
    assert (group.name, group.uuid) == ("vgtest", "jAIDh8-ivK2-6IcU-c1o5-s1ST-n6tC-EJ1iZQ")
    assert group.extent_size == 4 * MiB and group.extents == 49
    assert group.size == 49 * 4 * MiB
    [pv] = group.pvs
    assert pv.uuid == "FFWvdj-p9yE-3f93-bPHO-u3pi-MGhz-d5wxiO"
    assert pv.on == "part:/dev/sda:2" and pv.device == "/dev/loop0"
    assert pv.device_size == 200 * MiB and pv.pe_start == MiB
    sizes = {lv.name: lv.size for lv in group.lvs}
    assert sizes == {"root": 60 * MiB, "swap_1": 20 * MiB, "home": 40 * MiB}
    home = group.lv("home")
    assert home.tags == ["backup"] and home.type == "linear"
    assert home.uuid == "cccccc-1111-2222-3333-4444-5555-homelv"
    assert group.lv("root").tags == []


def test_a_pv_on_a_device_the_set_does_not_know_keeps_its_name_as_place():
    [group] = parse_groups(read("vgs.json"), read("pvs.json"), read("lvs.json"))
    assert group.pvs[0].on == "/dev/loop0"


def test_an_lvm_report_that_is_no_report_is_said_in_words():
    with pytest.raises(RestoreError, match="lvs report cannot be read"):
        report_rows("  WARNING: something\n", "lv")


def test_luks2_facts_come_from_the_json_metadata_and_blkid():
    blkid = dict(line.split("=", 1) for line in read("luks2-blkid.txt").splitlines())
    facts = parse_luks2(read("luks2-dump.json"), blkid["UUID"], blkid["LABEL"])
    assert facts == {"version": 2, "cipher": "aes-xts-plain64", "key_size": 512,
                     "payload_offset": 16 * MiB, "sector_size": 4096, "pbkdf": "pbkdf2",
                     "hash": "sha256", "uuid": "5b2c1e8e-6f3a-4c55-9d0e-2f4d1a7c9b10",
                     "label": "crypt-home"}


def test_luks1_facts_come_from_its_dump():
    facts = parse_luks1(read("luks1-dump.txt"))
    assert facts["uuid"] == "0f6e3a1c-2b4d-4e8f-9a7b-1c2d3e4f5a6b"
    assert (facts["cipher"], facts["key_size"], facts["hash"]) == ("aes-xts-plain64", 512,
                                                                  "sha256")
    assert facts["payload_offset"] == 4096 * 512


def test_damaged_luks2_metadata_is_said_in_words():
    with pytest.raises(RestoreError, match="LUKS2 metadata of X cannot be read"):
        parse_luks2('{"segments": {}}', "X")


def test_an_md_array_comes_from_mdadm_detail_export_with_its_members_in_role_order():
    array = parse_detail(read("md-detail-export.txt"), "/dev/md0",
                         {"/dev/vdc1": "part:/dev/vdc:1", "/dev/vdd1": "part:/dev/vdd:1"})
    assert (array.uuid, array.name, array.level, array.metadata, array.raid_devices) == (
        "02c993cd:4feafedc:506ab968:29332e00", "mirror:0", "raid1", "1.2", 2)
    assert [(m.device, m.on, m.role) for m in array.members] == [
        ("/dev/vdc1", "part:/dev/vdc:1", "0"), ("/dev/vdd1", "part:/dev/vdd:1", "1")]


def test_mdadm_output_without_a_uuid_is_said_in_words():
    with pytest.raises(RestoreError, match="mdadm says nothing of 'MD_UUID' for /dev/md9"):
        parse_detail("MD_LEVEL=raid1\n", "/dev/md9")


def test_places_name_each_layer():
    assert parse_place("lv:vg0/root") == ("lv", "vg0/root")
    assert partition_of("part:/dev/disk/by-id/x:1:3") == ("/dev/disk/by-id/x:1", 3)
    assert partition_of("md:abc") is None
    assert place_words("part:/dev/sda:2") == "partition 2 of /dev/sda"
    with pytest.raises(ValueError):
        parse_place("sda2")


def test_a_stack_says_what_each_lv_rests_on_down_to_the_partitions():
    stack = Stack(volume_groups=groups())
    assert stack.below("lv:vgtest/root") == ["part:/dev/sda:2"]
    assert stack.partitions_under("lv:vgtest/home") == [("/dev/sda", 2)]
    assert stack.size_of("lv:vgtest/swap_1") == 20 * MiB


def test_the_stack_round_trips_through_the_manifest(tmp_path):
    backup_set = BackupSet(path=str(tmp_path), set_id="s", created="now", host="h",
                           stack=Stack(volume_groups=groups()))
    backup_set.stack.volume_groups[0].metadata = read("vgtest.vgcfg")
    backup_set.filesystems.append(Filesystem(id=1, disk="/dev/sda", partition=0,
                                             device="/dev/mapper/vgtest-root", type="ext4",
                                             on="lv:vgtest/root"))
    backup_set.save()
    loaded = load_set(str(tmp_path))
    assert loaded.stack == backup_set.stack
    assert loaded.filesystems[0].on == "lv:vgtest/root"
    assert loaded.stack.volume_groups[0].metadata == read("vgtest.vgcfg")  # kept whole


def test_a_set_written_before_stacks_loads_without_one(tmp_path):
    manifest = {"format_version": 1, "set_id": "s", "created": "now", "host": "h",
                "disks": [], "filesystems": [{"id": 1, "disk": "/dev/sda", "partition": 1,
                                              "device": "/dev/sda1", "type": "ext4"}]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    loaded = load_set(str(tmp_path))
    assert not loaded.stack and loaded.filesystems[0].on == ""
    assert loaded.filesystems[0].on_partition
    loaded.save()  # a set of plain partitions is written as before: no stack key
    assert "stack" not in json.loads((tmp_path / "manifest.json").read_text())


def test_inspect_says_each_layer_what_it_lies_on_and_what_it_holds(tmp_path):
    import subprocess
    import sys
    backup_set = BackupSet(path=str(tmp_path), set_id="s", created="now", host="h",
                           stack=Stack(volume_groups=groups()))
    backup_set.filesystems.append(Filesystem(id=1, disk="/dev/sda", partition=0,
                                             device="/dev/mapper/vgtest-root", type="ext4",
                                             mountpoint="/", uuid="u-root",
                                             on="lv:vgtest/root"))
    backup_set.save()
    shown = subprocess.run([sys.executable, "-m", "console.cli", "inspect", str(tmp_path)],
                           capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert ("volume group vgtest on partition 2 of /dev/sda: UUID "
            "jAIDh8-ivK2-6IcU-c1o5-s1ST-n6tC-EJ1iZQ, 196.0 MiB in extents of 4.0 MiB"
            in shown.stdout)
    assert "    root 60.0 MiB linear: ext4 / uuid=u-root used=0 Bytes" in shown.stdout
    assert "    home 40.0 MiB linear tags=backup\n" in shown.stdout


@pytest.mark.parametrize("given, words", [
    ("home=rest", "is not of the form VG/LV=SPEC"),
    ("vg0/home=lots", "is not a resize override"),
    ("vg9/home=rest", "override for volume group vg9, but the set has only vgtest")])
def test_a_wrong_lv_override_is_a_usage_error_in_words(tmp_path, given, words):
    import subprocess
    import sys
    BackupSet(path=str(tmp_path), set_id="s", created="now", host="h",
              stack=Stack(volume_groups=groups())).save()
    shown = subprocess.run([sys.executable, "-m", "console.cli", "plan", str(tmp_path),
                            "--lv", given], capture_output=True, text=True)
    assert shown.returncode == 2, shown.stderr
    assert words in shown.stderr
