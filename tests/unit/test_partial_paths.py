"""Where a filesystem's files go under --into: its mount point, or fs-N without one."""

from console.core.applying.partial import destination, tar_name
from console.core.backupset.manifest import BackupSet
from console.core.layout import Archive, Filesystem


def fs(fs_id, mountpoint, kind="tar"):
    return Filesystem(id=fs_id, disk="/dev/sda", partition=fs_id, device=f"/dev/sda{fs_id}",
                      type="ext4", mountpoint=mountpoint,
                      archive=Archive(kind=kind, pieces=[], uncompressed_size=0))


def test_filesystems_go_to_their_mount_points():
    root, data, loose = fs(1, "/"), fs(2, "/srv/data"), fs(3, "")
    backup_set = BackupSet(path="/x", set_id="s", created="c", host="h",
                           filesystems=[root, data, loose, fs(4, "/boot/efi", kind="raw")])
    assert destination("/out", root, backup_set) == "/out"
    assert destination("/out", data, backup_set) == "/out/srv/data"
    assert destination("/out", loose, backup_set) == "/out/fs-3"


def test_the_only_filesystem_is_the_root_even_without_a_mount_point():
    only = fs(1, "")
    backup_set = BackupSet(path="/x", set_id="s", created="c", host="h",
                           filesystems=[only, fs(2, "", kind="raw")])
    assert destination("/out", only, backup_set) == "/out"


def test_tar_names():
    assert tar_name(b"/") == b"./"
    assert tar_name(b"/etc/passwd") == b"./etc/passwd"
