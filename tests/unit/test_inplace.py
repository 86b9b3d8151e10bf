"""Restoring in place, the parts that need no disk: which partition is which filesystem, the
candidates and the mapping chosen from them, the places offered, the refusals' words, and the
plan's checks before anything is written."""

from __future__ import annotations

import pytest

from console.core.applying.inplace import (
    Candidate,
    FoundPartition,
    candidates_from,
    choose_mapping,
    holds,
    identity_problem,
    place_for_mapping,
    places_from,
    plan_in_place,
)
from console.core.backupset.manifest import BackupSet
from console.core.backupset.selection import Selection
from console.core.disks.discovery import TargetDisk
from console.core.errors import RestoreError
from console.core.layout import Archive, Disk, Filesystem
from tests.catalogs import make_set_catalog

MiB = 1024 * 1024
ROOT_UUID = "0b6a5c3e-1111-4222-8333-444455556666"
DATA_UUID = "7d1f2a9b-aaaa-4bbb-8ccc-ddddeeeeffff"
HOME_UUID = "c0ffee00-1234-4567-89ab-cdef01234567"


def tar() -> Archive:
    return Archive("tar", [], 0)


def make_set(path: str = "/media/set") -> BackupSet:
    """Two original disks: sda with / (ext4) and /srv/data (xfs), sdb with /home (ext4)."""
    return BackupSet(path=path, set_id="s", created="c", host="h",
                     disks=[Disk("/dev/sda", 100 * MiB, 512, 512, "gpt"),
                            Disk("/dev/sdb", 100 * MiB, 512, 512, "gpt")],
                     filesystems=[
                         Filesystem(1, "/dev/sda", 1, "/dev/sda1", "vfat", "ABCD-1234",
                                    mountpoint="/boot/efi", archive=Archive("raw", [], 0)),
                         Filesystem(2, "/dev/sda", 2, "/dev/sda2", "ext4", ROOT_UUID,
                                    mountpoint="/", archive=tar()),
                         Filesystem(3, "/dev/sda", 3, "/dev/sda3", "xfs", DATA_UUID,
                                    mountpoint="/srv/data", archive=tar()),
                         Filesystem(4, "/dev/sdb", 1, "/dev/sdb1", "ext4", HOME_UUID,
                                    mountpoint="/home", archive=tar()),
                     ])


def target(name: str, **kwargs) -> TargetDisk:
    return TargetDisk(path=f"/dev/{name}", name=name, size=100 * MiB, logical_sector_size=512,
                      physical_sector_size=512, alignment=MiB, model="DISK", **kwargs)


def part(number: int, fstype: str = "", uuid: str = "") -> FoundPartition:
    return FoundPartition(number, number * MiB, MiB, fstype, uuid)


def selected(fs: int, *paths: bytes) -> Selection:
    selection = Selection(fs)
    for path in paths:
        selection.include(path)
    return selection


# ---- which partition is which filesystem ----

def test_a_partition_is_the_filesystem_when_type_and_uuid_match():
    root = make_set().filesystem(2)
    assert holds(root, part(2, "ext4", ROOT_UUID.upper()))  # blkid's case does not matter
    assert not holds(root, part(2, "ext4", DATA_UUID))
    assert not holds(root, part(2, "xfs", ROOT_UUID))
    assert not holds(root, None)
    no_uuid = Filesystem(9, "/dev/sda", 2, "/dev/sda2", "ext4", "", archive=tar())
    assert not holds(no_uuid, part(2, "ext4", ""))  # nothing to tell it from another


def test_refusals_name_the_device_what_it_holds_and_what_was_expected():
    root = make_set().filesystem(2)
    assert identity_problem(root, "/dev/sdc", [part(1), part(2, "ext4", ROOT_UUID)]) is None
    wrong = identity_problem(root, "/dev/sdc", [part(2, "ext4", DATA_UUID)])
    assert wrong.message == (f"Partition 2 of /dev/sdc holds ext4, UUID {DATA_UUID}, not fs-2 "
                             f"(ext4 /, UUID {ROOT_UUID}) of the set. Nothing was written.")
    assert "Device names can change between boots" in wrong.hint
    empty = identity_problem(root, "/dev/sdc", [part(2)])
    assert "holds no filesystem blkid recognizes, not fs-2" in empty.message
    missing = identity_problem(root, "/dev/sdc", [part(1, "vfat", "X")])
    assert missing.message == (f"/dev/sdc has no partition 2, where fs-2 (ext4 /, UUID "
                               f"{ROOT_UUID}) should be. Nothing was written.")
    blank = identity_problem(root, "/dev/sdc", None)
    assert blank.message.startswith("/dev/sdc has no partition table that can be read")
    no_uuid = Filesystem(9, "/dev/sda", 2, "/dev/sda2", "ext4", "", label="scratch",
                         archive=tar())
    unknown = identity_problem(no_uuid, "/dev/sdc", [part(2, "ext4", "")])
    assert "The set has no UUID for fs-9 (ext4 label scratch, UUID unknown)" in unknown.message


# ---- candidates and the mapping chosen from them ----

def test_candidates_are_the_disks_holding_filesystems_at_their_partition_numbers():
    backup_set = make_set()
    disks = [
        (target("vda"), [part(1, "ext4", "11111111-0000-0000-0000-000000000000")]),
        (target("sdc"), [part(1, "vfat", "ABCD-1234"), part(2, "ext4", ROOT_UUID),
                         part(3, "xfs", DATA_UUID)]),
        (target("sdd", holds_system=True), [part(1, "ext4", HOME_UUID)]),
        (target("sde"), [part(1, "ext4", ROOT_UUID)]),  # the right UUID at another number
        (target("sdf"), None),  # no partition table
    ]
    found = candidates_from(backup_set, disks)
    assert [(c.source, c.target, c.filesystems) for c in found] == [
        ("/dev/sda", "/dev/sdc", [2, 3]),  # the vfat is an image: no single files from it
        ("/dev/sdb", "/dev/sdd", [4])]
    assert found[1].problems == ["holds the running system"]
    assert found[1].words().endswith("(not usable: holds the running system)")


def candidate(source: str, name: str, filesystems: list[int]) -> Candidate:
    return Candidate(source, f"/dev/{name}", name, f"{name}: 104.9 MB DISK", filesystems)


def test_the_one_disk_holding_the_selection_is_chosen():
    backup_set = make_set()
    candidates = [candidate("/dev/sda", "sdc", [2, 3]), candidate("/dev/sdb", "sdd", [4]),
                  candidate("/dev/sdb", "sde", [4])]
    chosen = choose_mapping(backup_set, [selected(2, b"/etc"), selected(3, b"/www")],
                            candidates)
    assert {src: c.target for src, c in chosen.items()} == {"/dev/sda": "/dev/sdc"}
    # A disk only holding a filesystem without selected files does not count.
    chosen = choose_mapping(backup_set, [selected(3, b"/www")],
                            [candidate("/dev/sda", "sdc", [2, 3]),
                             candidate("/dev/sda", "sdx", [2])])
    assert chosen["/dev/sda"].target == "/dev/sdc"


def test_no_disk_holding_a_filesystem_is_refused_with_the_hints():
    backup_set = make_set()
    with pytest.raises(RestoreError) as refused:
        choose_mapping(backup_set, [selected(4, b"/anna")], [candidate("/dev/sda", "sdc", [2])])
    assert refused.value.message == (f"No disk of this machine holds fs-4 (ext4 /home, UUID "
                                     f"{HOME_UUID}).")
    assert "--map /dev/sdb=TARGET" in refused.value.hint and "--into DIR" in refused.value.hint


def test_several_disks_holding_it_are_listed_and_refused():
    backup_set = make_set()
    candidates = [candidate("/dev/sda", "sdc", [2, 3]), candidate("/dev/sda", "sdd", [2, 3])]
    with pytest.raises(RestoreError) as refused:
        choose_mapping(backup_set, [selected(2, b"/etc")], candidates)
    message = refused.value.message
    assert message.startswith(f"The filesystems of /dev/sda with selected files (fs-2 (ext4 /, "
                              f"UUID {ROOT_UUID})) are on 2 disks of this machine: ")
    assert "/dev/sdc: sdc: 104.9 MB DISK; /dev/sdd: sdd: 104.9 MB DISK" in message
    assert refused.value.hint == "Name the one to restore onto with --map /dev/sda=TARGET."


def test_filesystems_of_one_disk_found_on_different_disks_are_refused():
    backup_set = make_set()
    candidates = [candidate("/dev/sda", "sdc", [2]), candidate("/dev/sda", "sdd", [3])]
    with pytest.raises(RestoreError) as refused:
        choose_mapping(backup_set, [selected(2, b"/etc"), selected(3, b"/www")], candidates)
    assert refused.value.message.startswith("No single disk of this machine holds all the "
                                            "filesystems of /dev/sda with selected files:")
    assert "on /dev/sdc" in refused.value.message and "on /dev/sdd" in refused.value.message


# ---- the places the console offers ----

def test_places_combine_one_candidate_per_original_disk():
    backup_set = make_set()
    candidates = [candidate("/dev/sda", "sdc", [2, 3]), candidate("/dev/sdb", "sdd", [4]),
                  candidate("/dev/sdb", "sde", [4])]
    candidates[2].problems = ["in use: /dev/sde1 is mounted at /mnt"]
    places = places_from(backup_set, candidates)
    assert [(p.mapping, p.title, p.problems) for p in places] == [
        ({"/dev/sda": "/dev/sdc", "/dev/sdb": "/dev/sdd"}, "sdc (as /dev/sda), sdd (as /dev/sdb)",
         []),
        ({"/dev/sda": "/dev/sdc", "/dev/sdb": "/dev/sde"}, "sdc (as /dev/sda), sde (as /dev/sdb)",
         ["in use: /dev/sde1 is mounted at /mnt"])]
    assert places_from(backup_set, []) == []
    just = place_for_mapping({"/dev/sda": "/var/tmp/demo/target.img"}, "just restored")
    assert (just.title, just.note) == ("target.img (as /dev/sda)", "just restored")
    image = place_for_mapping({"/var/tmp/demo/source.img": "/var/tmp/demo/target.img"})
    assert image.title == "target.img (as source.img)"  # image files by their names


# ---- the plan: checked before anything is written ----

def test_the_plan_refuses_a_filesystem_without_a_target_or_saved_as_an_image(tmp_path):
    backup_set = make_set(str(tmp_path))
    make_set_catalog(backup_set.catalog_path, {2: ({b"/etc/passwd": ("file", 10)}, {}),
                                               4: ({b"/anna/notes": ("file", 5)}, {})})
    with pytest.raises(RestoreError) as refused:
        plan_in_place(backup_set, [selected(4, b"/anna")], {"/dev/sda": "/dev/sdc"})
    assert refused.value.message == (f"No target is given for /dev/sdb, the disk that held fs-4 "
                                     f"(ext4 /home, UUID {HOME_UUID}). Nothing was written.")
    with pytest.raises(RestoreError) as refused:
        plan_in_place(backup_set, [selected(1, b"/EFI")], {"/dev/sda": "/dev/sdc"})
    assert "was saved as an image; single files cannot be taken from it" in refused.value.message
    with pytest.raises(RestoreError) as refused:
        plan_in_place(backup_set, [Selection(2)], {"/dev/sda": "/dev/sdc"})
    assert refused.value.message == "Nothing is selected."


def test_the_plan_refuses_a_target_that_is_not_there(tmp_path):
    backup_set = make_set(str(tmp_path))
    make_set_catalog(backup_set.catalog_path, {2: ({b"/etc/passwd": ("file", 10)}, {})})
    with pytest.raises(RestoreError) as refused:
        plan_in_place(backup_set, [selected(2, b"/etc")],
                      {"/dev/sda": str(tmp_path / "gone.img")})
    assert refused.value.message == f"The target {tmp_path / 'gone.img'} does not exist."


def test_the_plan_refuses_an_image_that_is_not_the_filesystem(tmp_path):
    """An image file with no partition table: the probe reads it and finds nothing."""
    (tmp_path / "set").mkdir()
    backup_set = make_set(str(tmp_path / "set"))
    make_set_catalog(backup_set.catalog_path, {2: ({b"/etc/passwd": ("file", 10)}, {})})
    image = tmp_path / "blank.img"
    image.write_bytes(bytes(MiB))
    with pytest.raises(RestoreError) as refused:
        plan_in_place(backup_set, [selected(2, b"/etc")], {"/dev/sda": str(image)})
    assert refused.value.message.startswith(f"{image} has no partition table that can be read")
    assert image.read_bytes() == bytes(MiB)
    # An image inside the set's directory is refused by the safety rules, before any reading.
    inside = tmp_path / "set" / "disk.img"
    inside.write_bytes(bytes(MiB))
    with pytest.raises(RestoreError) as refused:
        plan_in_place(backup_set, [selected(2, b"/etc")], {"/dev/sda": str(inside)})
    assert refused.value.message.startswith(f"{inside} holds the backup set being restored")
