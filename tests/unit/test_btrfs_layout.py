"""Reading btrfs-progs' words about subvolumes (6.2 has no JSON for them): the outputs below
are copied from a real filesystem (btrfs-progs v6.2, Linux 6.1), and the fstab of a machine
that mounts subvol=@ at / and subvol=@home at /home."""

from __future__ import annotations

from console.core.backupset.backup import _assign_subvolume_mountpoints
from console.core.disks.fstab import parse_fstab
from console.core.layout import Filesystem, Subvolume
from console.core.volumes.btrfs import (
    creation_order,
    higher_qgroups,
    parse_default,
    parse_qgroup_limits,
    parse_read_only,
    parse_subvolume_list,
)

LISTED = """\
ID 256 gen 7 parent 5 top level 5 parent_uuid -                                    received_uuid -                                    uuid 15603e7b-7bbb-4a44-867b-8f61d762c09c path @
ID 257 gen 7 parent 5 top level 5 parent_uuid -                                    received_uuid -                                    uuid 90755fd1-483a-7147-a337-98170ff04820 path @home
ID 258 gen 7 parent 256 top level 256 parent_uuid -                                    received_uuid -                                    uuid a2ace929-7634-6f4a-99a1-528c09ff0845 path @/var/lib/machines
ID 259 gen 7 parent 5 top level 5 parent_uuid 15603e7b-7bbb-4a44-867b-8f61d762c09c received_uuid -                                    uuid e59080d3-3b5e-914b-a14e-5fe68ce27b3c path @snap1
ID 261 gen 9 parent 5 top level 5 parent_uuid -                                    received_uuid -                                    uuid 0d7c9a51-3d0e-a84b-9f3f-2f3a1d1b8a11 path with space
"""
READ_ONLY = """\
ID 259 gen 7 top level 5 path @snap1
"""
QGROUPS = """\
Qgroupid    Referenced    Exclusive  Max referenced  Max exclusive   Path 
--------    ----------    ---------  --------------  -------------   ---- 
0/5              16384        16384            none           none   <toplevel>
0/256            16384        16384            none       52428800   @
0/257            16384        16384       104857600           none   @home
0/258            16384        16384            none           none   @/var/lib/machines
1/100                0            0        1048576           none   <1 member qgroup>
"""  # noqa: W291 (btrfs pads its header with a space)


def test_every_listed_subvolume_is_read_with_its_parent_and_uuids():
    found, unread = parse_subvolume_list(LISTED)
    assert unread == []
    assert [(s.id, s.parent_id, s.path) for s in found] == [
        (256, 5, "@"), (257, 5, "@home"), (258, 256, "@/var/lib/machines"), (259, 5, "@snap1"),
        (261, 5, "with space")]
    snapshot = found[3]
    assert snapshot.parent_uuid == found[0].uuid == "15603e7b-7bbb-4a44-867b-8f61d762c09c"
    assert snapshot.uuid == "e59080d3-3b5e-914b-a14e-5fe68ce27b3c"
    assert found[0].parent_uuid == "" and found[0].received_uuid == ""


def test_a_name_with_a_line_break_leaves_a_line_that_cannot_be_read():
    text = LISTED.replace("path with space", "path odd\nname")
    found, unread = parse_subvolume_list(text)
    assert found[-1].path == "odd"  # the backup finds no subvolume there and says so
    assert unread == ["name"]


def test_read_only_ids_default_and_quota_limits():
    assert parse_read_only(READ_ONLY) == {259}
    assert parse_default("ID 256 gen 7 top level 5 path @\n") == 256
    assert parse_default("ID 5 (FS_TREE)\n") == 5
    assert parse_qgroup_limits(QGROUPS) == {5: (0, 0), 256: (0, 52428800),
                                            257: (104857600, 0), 258: (0, 0)}
    assert higher_qgroups(QGROUPS) == ["1/100"]


def test_subvolumes_are_made_in_the_order_of_their_ids_parents_first():
    subvolumes = [Subvolume("@/var/lib/machines", 258, 256), Subvolume("@snap1", 259, 5),
                  Subvolume("@", 256, 5)]
    assert [s.path for s in creation_order(subvolumes)] == ["@", "@/var/lib/machines",
                                                            "@snap1"]
    # One moved into a subvolume made after it: it waits for it.
    moved = [Subvolume("late/early", 256, 300), Subvolume("late", 300, 5)]
    assert [s.path for s in creation_order(moved)] == ["late", "late/early"]


def _btrfs() -> Filesystem:
    return Filesystem(id=2, disk="/dev/sda", partition=2, device="/dev/sda2", type="btrfs",
                      uuid="U", subvolumes=[Subvolume("@", 256, 5, default=True),
                                            Subvolume("@home", 257, 5),
                                            Subvolume("@/var/lib/machines", 258, 256),
                                            Subvolume("@snap1", 259, 5, read_only=True)])


def test_fstab_entries_mount_subvolumes_by_path_id_or_the_default():
    fs = _btrfs()
    fstab = parse_fstab("UUID=U / btrfs subvol=@,compress=zstd 0 0\n"
                        "UUID=U /home btrfs subvolid=257 0 0\n"
                        "UUID=U /mnt/pool btrfs subvol=/ 0 0\n")
    _assign_subvolume_mountpoints(fs, fstab)
    shown = {s.path: s.mountpoint for s in fs.subvolumes}
    # machines shows inside @; @snap1 was not mounted, but the top level was, at /mnt/pool.
    assert shown == {"@": "/", "@home": "/home", "@/var/lib/machines": "/var/lib/machines",
                     "@snap1": "/mnt/pool/@snap1"}
    assert fs.mountpoint == "/mnt/pool"


def test_an_entry_without_subvol_mounts_the_default_subvolume():
    fs = _btrfs()
    _assign_subvolume_mountpoints(fs, parse_fstab("UUID=U / btrfs defaults 0 0\n"))
    assert [s.mountpoint for s in fs.subvolumes] == ["/", "", "/var/lib/machines", ""]
    assert fs.mountpoint == "" and fs.place == "/"


def test_the_manifest_keeps_subvolumes_and_reads_filesystems_without_them():
    from console.core.layout import Archive, Piece
    fs = _btrfs()
    fs.quota = True
    fs.subvolumes[1].max_referenced = 100 << 20
    fs.subvolumes[1].archive = Archive("tar", [Piece("fs-2-subvolume-257.tar.zst", 10, "ab")],
                                       20480, members=3)
    saved = fs.to_json()
    assert "subvolume" not in saved  # a view's key, never in a manifest
    again = Filesystem.from_json(saved)
    assert again == fs
    older = {k: v for k, v in saved.items() if k not in ("subvolumes", "quota")}
    assert Filesystem.from_json(older).subvolumes == []


def test_the_fstab_is_looked_for_in_the_default_subvolume_then_the_top_level_then_the_others():
    from console.core.backupset.backup import _fstab_places
    fedora = _btrfs().subvolumes
    assert _fstab_places("/t", fedora)[:2] == ["/t/@", "/t"]
    ubuntu = [Subvolume("@snap1", 259, 5, read_only=True, parent_uuid="x"),
              Subvolume("@home", 257, 5), Subvolume("@", 256, 5)]
    assert _fstab_places("/t", ubuntu) == ["/t", "/t/@", "/t/@home", "/t/@snap1"]


def test_a_restore_needs_room_for_the_snapshots_data_written_again():
    from console.core.layout import Archive
    fs = _btrfs()
    fs.bytes_used = 300 << 20  # @ and its snapshot share their 200 MiB on the source
    fs.archive = Archive("tar", [], 10 << 10)
    fs.subvolumes[0].archive = Archive("tar", [], 200 << 20)
    fs.subvolumes[3].archive = Archive("tar", [], 200 << 20)
    assert fs.bytes_needed == (400 << 20) + (10 << 10)
    fs.subvolumes = []
    assert fs.bytes_needed == 300 << 20
