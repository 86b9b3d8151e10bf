"""Plans for a set whose filesystems live in LVM: the Debian installer's layout (/boot on a
partition, /, swap and /home in one group on the second partition) onto a larger and a
smaller disk; every layer's step said; sets whose groups cannot be laid out refused in words."""

from __future__ import annotations

import json

import pytest

from console.core.backupset.manifest import BackupSet
from console.core.disks.discovery import TargetDisk
from console.core.errors import RestoreError
from console.core.layout import (
    Archive,
    Disk,
    Filesystem,
    LogicalVolume,
    LuksContainer,
    MdArray,
    MdMember,
    Partition,
    PhysicalVolume,
    Piece,
    Stack,
    VolumeGroup,
)
from console.core.planning.lvresize import VolumePolicy
from console.core.planning.mapping import DiskMapping
from console.core.planning.plan import Plan, build_plan, render
from console.core.planning.resize import Override
from console.core.planning.steps import (
    CreateArray,
    CreateLuks,
    CreatePhysicalVolume,
    CreateVolumeGroup,
    MakeFilesystem,
)

MiB = 1024**2
GiB = 1024**3
E = 4 * MiB
LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
LVM = "E6D6D379-F507-44C2-A23C-238F2A3DF928"


def tar(size: int) -> Archive:
    return Archive("tar", [Piece("x.zst", 1, "00")], size, members=10)


def debian_set(root_used: int = 2 * GiB) -> BackupSet:
    disk = Disk(name="/dev/sda", size=20 * GiB, logical_sector_size=512,
                physical_sector_size=512, table="gpt", partitions=[
                    Partition(1, MiB, 512 * MiB, "primary", type_uuid=LINUX, partuuid="p1"),
                    Partition(2, 513 * MiB, 20 * GiB - 514 * MiB - 33 * 512, "primary",
                              type_uuid=LVM, partuuid="p2")])
    pv_size = disk.partitions[1].size
    extents = (pv_size - MiB) // E
    lvs = [LogicalVolume("root", "lv-root", 8 * GiB, "linear"),
           LogicalVolume("swap_1", "lv-swap", 1 * GiB, "linear"),
           LogicalVolume("home", "lv-home", extents * E - 9 * GiB, "linear")]
    group = VolumeGroup("vg0", "vg-uuid", E, extents * E, extents,
                        pvs=[PhysicalVolume("pv-uuid", "/dev/sda2", "part:/dev/sda:2",
                                            extents * E, pv_size, MiB)],
                        lvs=lvs, metadata="vg0 { }\n")
    filesystems = [
        Filesystem(1, "/dev/sda", 1, "/dev/sda1", "ext4", "u-boot", "", "/boot", 512 * MiB,
                   100 * MiB, archive=tar(100 * MiB)),
        Filesystem(2, "/dev/sda", 2, "/dev/sda2", "", size=pv_size, content="LVM2_member"),
        Filesystem(3, "/dev/sda", 0, "/dev/mapper/vg0-root", "ext4", "u-root", "", "/",
                   8 * GiB, root_used, archive=tar(root_used), on="lv:vg0/root"),
        Filesystem(4, "/dev/sda", 0, "/dev/mapper/vg0-swap_1", "swap", "u-swap", "", "",
                   GiB, on="lv:vg0/swap_1"),
        Filesystem(5, "/dev/sda", 0, "/dev/mapper/vg0-home", "ext4", "u-home", "", "/home",
                   lvs[2].size, GiB, archive=tar(GiB), on="lv:vg0/home"),
    ]
    return BackupSet(path="/media/set", set_id="set-1", created="2026-12-01", host="deb",
                     disks=[disk], filesystems=filesystems, stack=Stack(volume_groups=[group]))


def target(size: int) -> TargetDisk:
    return TargetDisk(path="/dev/vdc", name="vdc", size=size, logical_sector_size=512,
                      physical_sector_size=512, alignment=MiB)


def plan_onto(size: int, backup_set: BackupSet | None = None, **kw) -> Plan:
    return build_plan(backup_set or debian_set(), DiskMapping({"/dev/sda": "/dev/vdc"}),
                      [target(size)], **kw)


def test_onto_a_larger_disk_the_pv_grows_and_root_and_home_share_it_swap_kept():
    plan = plan_onto(40 * GiB)
    layout = plan.disks[0].layout
    assert layout.partition(1).size == 512 * MiB  # /boot keeps its size
    assert layout.partition(2).size > 39 * GiB
    [group] = plan.groups
    sizes = {d.name: d.new_size for d in group.volumes}
    assert sizes["swap_1"] == GiB
    assert sizes["root"] > 16 * GiB and sizes["home"] > 20 * GiB
    usable = (layout.partition(2).size - MiB) // E * E
    assert sum(sizes.values()) == usable
    actions = [s.action for s in plan.steps]
    assert actions[:7] == ["wipe", "create-table", "create-partition", "create-partition",
                           "set-identifiers", "create-physical-volume", "make-filesystem"]
    assert actions[7] == "create-volume-group"
    made = [s for s in plan.steps if isinstance(s, MakeFilesystem)]
    assert [(s.on, s.size) for s in made] == [("", 512 * MiB),
                                               ("lv:vg0/root", sizes["root"]),
                                               ("lv:vg0/swap_1", GiB),
                                               ("lv:vg0/home", sizes["home"])]
    create = next(s for s in plan.steps if isinstance(s, CreateVolumeGroup))
    assert create.sizes == sizes and create.uuid == "vg-uuid"
    pv = next(s for s in plan.steps if isinstance(s, CreatePhysicalVolume))
    assert (pv.uuid, pv.partition, pv.size) == ("pv-uuid", 2, layout.partition(2).size)
    assert set(plan.filesystems) == {1, 2, 3, 4, 5}


def test_onto_a_smaller_disk_the_data_still_fits_and_root_is_held_at_its_floor():
    plan = plan_onto(8 * GiB, debian_set(root_used=4 * GiB))
    sizes = {d.name: d for d in plan.groups[0].volumes}
    assert sizes["root"].rule == "floored"
    assert sizes["root"].new_size >= 4 * GiB * 1.1
    assert sizes["home"].new_size >= GiB * 1.1
    assert sizes["swap_1"].new_size == GiB
    # the PV's partition got what the group needs, the rest of the disk
    assert plan.disks[0].layout.partition(2).size >= sum(d.new_size for d in sizes.values())


def test_a_disk_too_small_for_the_volumes_is_refused_naming_the_pv_and_its_floor():
    with pytest.raises(RestoreError) as refused:
        plan_onto(5 * GiB, debian_set(root_used=4 * GiB))
    assert "partition 2 (LVM physical volume" in refused.value.message
    assert "the physical volume of vg0" in refused.value.message


def test_the_plan_says_every_layers_step_and_survives_json():
    plan = plan_onto(40 * GiB, volume_policies={"vg0": VolumePolicy(
        overrides={"home": Override("size", 10 * GiB)})})
    text = render(plan)
    assert "Make partition 2 (" in text and "an LVM physical volume of vg0, UUID pv-uuid" in text
    assert "Make volume group vg0 (UUID vg-uuid) on its 1 physical volume" in text
    assert "Make ext4 on LV vg0/root" in text
    assert "Mount ext4 / (LV vg0/root) at /" in text
    assert "Logical volumes of vg0:" in text
    assert "home" in text and "overridden: set to 10.0 GiB by an override" in text
    again = Plan.from_json(json.loads(json.dumps(plan.to_json())))
    assert again.steps == plan.steps and again.groups == plan.groups
    assert render(again) == text


def test_a_group_of_raid1_volumes_that_would_change_size_is_refused_in_words():
    backup_set = debian_set()
    backup_set.stack.volume_groups[0].lvs[0].type = "raid1"
    backup_set.stack.volume_groups[0].lvs[0].size = 2 * GiB
    with pytest.raises(RestoreError, match="has raid1 volume root"):
        plan_onto(40 * GiB, backup_set)


def test_a_plain_set_plans_as_before_without_groups():
    backup_set = debian_set()
    backup_set.stack = Stack()
    backup_set.filesystems = backup_set.filesystems[:1]
    plan = plan_onto(40 * GiB, backup_set)
    assert plan.groups == [] and "groups" not in plan.to_json()


def test_the_smallest_target_counts_what_the_volumes_need_not_the_pvs_original_size():
    from console.core.planning.choices import minimum_target_size_for
    backup_set = debian_set(root_used=4 * GiB)
    smallest = minimum_target_size_for(backup_set, backup_set.disks[0])
    assert 6 * GiB < smallest < 8 * GiB  # /boot, root's 4 GiB + 10%, home's 1 GiB, swap
    plan_onto(smallest, backup_set)  # and it fits there


def luks_lvm_set() -> BackupSet:
    """The Debian installer's "guided, encrypted LVM": the group's PV in a LUKS2 container
    on partition 2."""
    backup_set = debian_set()
    part = backup_set.disks[0].partitions[1]
    backup_set.stack.luks.append(LuksContainer(
        uuid="luks-uuid", device="/dev/sda2", on="part:/dev/sda:2", name="sda2_crypt",
        version=2, cipher="aes-xts-plain64", key_size=512, size=part.size,
        payload_offset=16 * MiB, pbkdf="argon2id"))
    group = backup_set.stack.volume_groups[0]
    group.pvs[0].on = "luks:luks-uuid"
    group.pvs[0].device = "/dev/mapper/sda2_crypt"
    backup_set.filesystems[1].content = "crypto_LUKS"
    return backup_set


def test_lvm_in_luks_formats_the_container_before_the_pv_and_counts_its_header():
    plan = plan_onto(40 * GiB, luks_lvm_set())
    actions = [s.action for s in plan.steps]
    assert actions.index("create-luks") < actions.index("create-physical-volume") < \
        actions.index("create-volume-group")
    luks = next(s for s in plan.steps if isinstance(s, CreateLuks))
    pv = next(s for s in plan.steps if isinstance(s, CreatePhysicalVolume))
    part = plan.disks[0].layout.partition(2)
    assert (luks.uuid, luks.name, luks.partition, luks.size) == ("luks-uuid", "sda2_crypt", 2,
                                                                 part.size)
    assert (pv.on, pv.size) == ("luks:luks-uuid", part.size - 16 * MiB)
    usable = (part.size - 16 * MiB - MiB) // E * E
    assert sum(d.new_size for d in plan.groups[0].volumes) == usable
    text = render(plan)
    assert "Format partition 2 (" in text and "as LUKS2 with UUID luks-uuid" in text
    assert "the passphrase asked before anything is written; open it as sda2_crypt" in text
    assert "Make the LUKS container luks-uuid on partition 2" in text
    assert "LUKS container" in plan.disks[0].resized.decision(2).label


def test_a_plan_with_luks_asks_the_passphrase_first_and_without_one_stops_in_words():
    from console.core.applying.restore import _passphrases
    from console.core.questions import Question
    plan = plan_onto(40 * GiB, luks_lvm_set())
    with pytest.raises(RestoreError) as refused:
        _passphrases(plan, lambda event: None)  # nobody answers
    assert "No passphrase was given for the LUKS container sda2_crypt" in refused.value.message
    assert refused.value.message.endswith("Nothing was written.")
    asked = []

    def typing(question):
        if isinstance(question, Question):
            asked.append(question)
            question.answer("s3cret")
    assert _passphrases(plan, typing) == {"luks-uuid": "s3cret"}
    assert "sda2_crypt" in asked[0].title and asked[0].secret
    assert "s3cret" not in repr(asked[0]) and "s3cret" not in str(asked[0])


def mirror_set() -> BackupSet:
    """/ on an md RAID1 of sda1 and sdb1 (metadata 1.2: 1 MiB of each member before the
    data... and 8 MiB for this one's data offset)."""
    disks, members = [], []
    for letter in "ab":
        disks.append(Disk(name=f"/dev/sd{letter}", size=4 * GiB, logical_sector_size=512,
                          physical_sector_size=512, table="gpt", partitions=[
                              Partition(1, MiB, 4 * GiB - 2 * MiB, "primary",
                                        type_uuid=LINUX, partuuid=f"p{letter}")]))
        members.append(MdMember(f"/dev/sd{letter}1", f"part:/dev/sd{letter}:1", letter == "b"
                                and "1" or "0"))
    array = MdArray(uuid="3f2a0b1c:4d5e6f70:81920a1b:2c3d4e5f", device="/dev/md0",
                    name="deb:0", level="raid1", metadata="1.2",
                    size=4 * GiB - 2 * MiB - 8 * MiB, raid_devices=2, members=members,
                    bitmap="none")
    filesystems = [
        Filesystem(1, "/dev/sda", 1, "/dev/sda1", "", size=4 * GiB - 2 * MiB,
                   content="linux_raid_member"),
        Filesystem(2, "/dev/sdb", 1, "/dev/sdb1", "", size=4 * GiB - 2 * MiB,
                   content="linux_raid_member"),
        Filesystem(3, "/dev/sda", 0, "/dev/md0", "ext4", "u-root", "", "/", array.size,
                   GiB, archive=tar(GiB), on=array.place)]
    return BackupSet(path="/media/set", set_id="set-2", created="2026-12-01", host="mirror",
                     disks=disks, filesystems=filesystems, stack=Stack(arrays=[array]))


def test_a_mirror_onto_one_larger_disk_is_made_degraded_with_its_uuid_and_the_fs_on_it():
    plan = build_plan(mirror_set(), DiskMapping({"/dev/sda": "/dev/vdc", "/dev/sdb": None}),
                      [target(10 * GiB)])
    create = next(s for s in plan.steps if isinstance(s, CreateArray))
    part = plan.disks[0].layout.partition(1)
    assert create.members == ("/dev/vdc:1", "missing")
    assert (create.uuid, create.metadata, create.level, create.name) == (
        "3f2a0b1c:4d5e6f70:81920a1b:2c3d4e5f", "1.2", "raid1", "deb:0")
    assert create.size == part.size - 8 * MiB - MiB  # the superblock, a margin for mdadm
    made = next(s for s in plan.steps if isinstance(s, MakeFilesystem))
    assert (made.on, made.size, made.uuid) == ("md:3f2a0b1c:4d5e6f70:81920a1b:2c3d4e5f",
                                               create.size, "u-root")
    text = render(plan)
    assert ("on partition 1 of /dev/vdc and 1 missing member (degraded: a mirror of 1 member"
            in text)
    assert "Mount ext4 / (md array 3f2a0b1c:4d5e6f70:81920a1b:2c3d4e5f) at /" in text
    assert "md RAID member" in plan.disks[0].resized.decision(1).label


def test_a_mirror_shrinks_with_its_members_down_to_the_data_of_its_filesystem():
    plan = build_plan(mirror_set(), DiskMapping({"/dev/sda": "/dev/vdc", "/dev/sdb": "/dev/vdd"}),
                      [target(2 * GiB), TargetDisk(path="/dev/vdd", name="vdd", size=2 * GiB,
                                                  logical_sector_size=512,
                                                  physical_sector_size=512, alignment=MiB)])
    create = next(s for s in plan.steps if isinstance(s, CreateArray))
    assert create.members == ("/dev/vdc:1", "/dev/vdd:1")
    assert GiB * 1.1 < create.size < 2 * GiB
    with pytest.raises(RestoreError, match="a member of the md array of ext4 /"):
        build_plan(mirror_set(), DiskMapping({"/dev/sda": "/dev/vdc", "/dev/sdb": None}),
                   [target(GiB)])
