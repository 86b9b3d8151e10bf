"""Disk mapping: suggestions in order of preference, and checks of an operator's mapping."""

from __future__ import annotations

import pytest

from console.core.disks.discovery import TargetDisk
from console.core.errors import RestoreError
from console.core.layout import Disk
from console.core.planning.mapping import require_valid, suggest_mapping, validate_mapping

GB = 1000**3
MiB = 1024 * 1024


def disk(name: str, size: int, serial: str = "", wwn: str = "") -> Disk:
    return Disk(name=name, size=size, logical_sector_size=512, physical_sector_size=512,
                table="gpt", serial=serial, wwn=wwn)


def target(name: str, size: int, **extra) -> TargetDisk:
    path = extra.pop("path", f"/dev/{name}")
    return TargetDisk(path=path, name=name, size=size, logical_sector_size=512,
                      physical_sector_size=512, alignment=MiB, **extra)


def test_serial_match_beats_same_size_and_name():
    sda = disk("/dev/sda", 500 * GB, serial="Z3T5ABCD")
    same_name_and_size = target("sda", 500 * GB, serial="OTHER")
    same_drive = target("sdc", 500 * GB, serial="Z3T5ABCD")
    result = suggest_mapping([sda], [same_name_and_size, same_drive])
    assert result.mapping == {"/dev/sda": "/dev/sdc"}
    assert result.reasons["/dev/sda"] == "same serial (Z3T5ABCD)"


def test_serial_match_of_one_disk_is_not_taken_by_the_size_match_of_another():
    # sdb would fit on sdc by size, but sdc is sda's own drive: identity is decided first.
    sdb = disk("/dev/sdb", 100 * GB)
    sda = disk("/dev/sda", 100 * GB, serial="S1")
    targets = [target("sdc", 100 * GB, serial="S1"), target("sdd", 100 * GB)]
    result = suggest_mapping([sdb, sda], targets)
    assert result.mapping == {"/dev/sdb": "/dev/sdd", "/dev/sda": "/dev/sdc"}


def test_renamed_disks_are_matched_by_serial_and_wwn():
    sda = disk("/dev/sda", 1000 * GB, serial="S4EWNX0N123456A")
    sdb = disk("/dev/sdb", 2000 * GB, wwn="0x5000c500a1b2c3d4")
    targets = [target("nvme0n1", 1000 * GB, serial="S4EWNX0N123456A"),
               target("nvme1n1", 1000 * GB),
               target("sdz", 2000 * GB, wwn="naa.5000c500a1b2c3d4"),
               target("sdy", 2000 * GB)]
    result = suggest_mapping([sda, sdb], targets)
    assert result.mapping == {"/dev/sda": "/dev/nvme0n1", "/dev/sdb": "/dev/sdz"}
    assert result.reasons == {"/dev/sda": "same serial (S4EWNX0N123456A)",
                              "/dev/sdb": "same WWN (naa.5000c500a1b2c3d4)"}


def test_same_size_and_name_before_same_size():
    sdb = disk("/dev/sdb", 250 * GB)
    result = suggest_mapping([sdb], [target("sda", 250 * GB), target("sdb", 250 * GB)])
    assert result.mapping == {"/dev/sdb": "/dev/sdb"}
    assert result.reasons["/dev/sdb"] == "same size (232.8 GiB) and name"


def test_same_size_before_a_larger_disk_with_the_same_name():
    sda = disk("/dev/sda", 250 * GB)
    result = suggest_mapping([sda], [target("sda", 500 * GB), target("sdc", 250 * GB)])
    assert result.mapping == {"/dev/sda": "/dev/sdc"}
    assert result.reasons["/dev/sda"] == "same size (232.8 GiB)"


def test_smallest_disk_that_fits():
    sda = disk("/dev/sda", 20 * GB)
    targets = [target("sdb", 2000 * GB), target("sdc", 15 * GB), target("sdd", 10 * GB),
               target("sde", 500 * GB)]
    result = suggest_mapping([sda], targets, minimum_sizes={"/dev/sda": 12 * GB})
    assert result.mapping == {"/dev/sda": "/dev/sdc"}
    assert result.reasons["/dev/sda"] == ("the smallest disk that fits (14.0 GiB; "
                                          "needs at least 11.2 GiB)")


def test_minimum_sizes_as_a_callable():
    sda = disk("/dev/sda", 20 * GB)
    result = suggest_mapping([sda], [target("sdb", 10 * GB), target("sdc", 8 * GB)],
                             minimum_sizes=lambda d: d.size // 4)
    assert result.mapping == {"/dev/sda": "/dev/sdc"}


def test_larger_layout_chooses_first_among_smallest_fits():
    # Taken in the set's order, sda would take the 100 GB disk and leave sdb nothing.
    sda = disk("/dev/sda", 30 * GB)
    sdb = disk("/dev/sdb", 90 * GB)
    result = suggest_mapping([sda, sdb], [target("sdx", 100 * GB), target("sdy", 400 * GB)])
    assert result.mapping == {"/dev/sda": "/dev/sdy", "/dev/sdb": "/dev/sdx"}


def test_unsafe_disks_are_never_suggested():
    sda = disk("/dev/sda", 100 * GB, serial="S1")
    targets = [target("sda", 100 * GB, serial="S1", holds_media=True),
               target("sdb", 100 * GB, holds_system=True),
               target("sdc", 100 * GB, mounted=["/dev/sdc1 is mounted at /mnt"]),
               target("sdd", 100 * GB, read_only=True),
               target("sde", 100 * GB, holders=["sde2 is held by dm-0 (vg-root)"])]
    result = suggest_mapping([sda], targets)
    assert result.mapping == {"/dev/sda": None}
    assert result.unmapped == ["/dev/sda"]
    reason = result.reasons["/dev/sda"]
    assert reason.startswith("left unmapped")
    for words in ("sda: holds the backup set", "sdb: holds the running system",
                  "sdc: in use: /dev/sdc1 is mounted at /mnt", "sdd: read-only",
                  "sde: in use: sde2 is held by dm-0"):
        assert words in reason


def test_too_small_even_for_the_data_is_never_suggested():
    sda = disk("/dev/sda", 20 * GB)
    result = suggest_mapping([sda], [target("sdb", 5 * GB)], minimum_sizes={"/dev/sda": 6 * GB})
    assert result.mapping == {"/dev/sda": None}
    assert "sdb: too small (4.7 GiB)" in result.reasons["/dev/sda"]


def test_each_target_used_once_and_the_rest_unmapped():
    disks = [disk("/dev/sda", 100 * GB), disk("/dev/sdb", 100 * GB)]
    result = suggest_mapping(disks, [target("sdc", 100 * GB)])
    assert result.mapping == {"/dev/sda": "/dev/sdc", "/dev/sdb": None}
    assert result.unmapped == ["/dev/sdb"]
    assert result.chosen() == {"/dev/sda": "/dev/sdc"}


def test_valid_mapping_including_a_swap():
    disks = [disk("/dev/sda", 100 * GB), disk("/dev/sdb", 100 * GB)]
    targets = [target("sda", 100 * GB), target("sdb", 100 * GB)]
    result = validate_mapping(disks, targets, {"/dev/sda": "/dev/sdb", "/dev/sdb": "/dev/sda"})
    assert result.ok and result.refused == {}
    assert result.mapping == {"/dev/sda": "/dev/sdb", "/dev/sdb": "/dev/sda"}
    require_valid(result)


def test_targets_are_found_by_name_and_image_path(tmp_path):
    image = tmp_path / "new.img"
    disks = [disk("/dev/sda", 10 * GB), disk("/dev/sdb", 10 * GB)]
    targets = [target("sdc", 10 * GB), target("new.img", 10 * GB, path=str(image), is_image=True)]
    result = validate_mapping(disks, targets, {"/dev/sda": "sdc",
                                               "/dev/sdb": str(tmp_path / "." / "new.img")})
    assert result.ok
    assert result.mapping == {"/dev/sda": "/dev/sdc", "/dev/sdb": str(image)}


def test_too_small_is_refused_with_the_numbers():
    disks = [disk("/dev/sda", 20 * GB)]
    result = validate_mapping(disks, [target("sdb", 15 * GB)], {"/dev/sda": "/dev/sdb"},
                              minimum_sizes={"/dev/sda": 16 * GB})
    assert result.refused == {"/dev/sda": [
        "sdb is too small for /dev/sda: it has 14.0 GiB, "
        "the data of /dev/sda needs at least 14.9 GiB"]}
    with pytest.raises(RestoreError, match="too small"):
        require_valid(result)


def test_too_small_by_a_little_shows_bytes():
    disks = [disk("/dev/sda", 20 * GB)]
    result = validate_mapping(disks, [target("sdb", 15 * GB)], {"/dev/sda": "/dev/sdb"},
                              minimum_sizes={"/dev/sda": 15 * GB + 4096})
    [message] = result.refused["/dev/sda"]
    assert "15,000,000,000 bytes" in message and "15,000,004,096 bytes" in message


def test_every_refusal_is_said():
    disks = [disk("/dev/sda", 10 * GB), disk("/dev/sdb", 10 * GB), disk("/dev/sdc", 10 * GB)]
    targets = [target("sdx", 10 * GB, holds_media=True, mounted=["/dev/sdx1 is mounted at /m"]),
               target("sdy", 10 * GB)]
    result = validate_mapping(disks, targets, {
        "/dev/sda": "/dev/sdx", "/dev/sdb": "/dev/sdy", "/dev/sdc": "/dev/sdy",
        "/dev/nope": "/dev/sdy", "/dev/sdb2": None})
    assert result.refused["/dev/sda"] == [
        "sdx cannot be written: holds the backup set being restored",
        "sdx cannot be written: in use: /dev/sdx1 is mounted at /m"]
    assert result.refused["/dev/sdc"] == [
        "sdy is already the target of /dev/sdb; each disk can take one original disk"]
    assert result.refused["/dev/nope"][0] == (
        "the set has no disk named /dev/nope (its disks: /dev/sda, /dev/sdb, /dev/sdc)")
    assert result.refused["/dev/sdb2"][0].startswith("the set has no disk named /dev/sdb2")
    assert "/dev/sdb" not in result.refused
    with pytest.raises(RestoreError) as raised:
        require_valid(result)
    assert "/dev/sda: sdx cannot be written" in raised.value.message


def test_unknown_target_is_refused():
    result = validate_mapping([disk("/dev/sda", GB)], [target("sdb", GB)], {"/dev/sda": "/dev/sdq"})
    assert result.refused == {"/dev/sda": [
        "/dev/sdq is not a disk of this machine nor a named image file (disks found: sdb)"]}


def test_disks_left_unmapped_are_said_so():
    disks = [disk("/dev/sda", GB), disk("/dev/sdb", GB), disk("/dev/sdc", GB)]
    result = validate_mapping(disks, [target("sdx", GB)], {"/dev/sda": "sdx", "/dev/sdb": None})
    assert result.ok
    assert result.mapping == {"/dev/sda": "/dev/sdx", "/dev/sdb": None, "/dev/sdc": None}
    assert result.unmapped == ["/dev/sdb", "/dev/sdc"]
    assert result.reasons["/dev/sdb"].startswith("left unmapped by choice")
    assert result.reasons["/dev/sdc"].startswith("not in the mapping: left unmapped")
    assert result.to_json()["unmapped"] == ["/dev/sdb", "/dev/sdc"]
