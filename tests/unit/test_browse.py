"""Paths of the original system resolved to (filesystem, path inside it) by mount point."""

import pytest

from console.core.backupset.browse import resolve
from console.core.backupset.manifest import BackupSet
from console.core.errors import RestoreError
from console.core.layout import Archive, Filesystem


def fs(fs_id, mountpoint, kind="tar"):
    return Filesystem(id=fs_id, disk="/dev/sda", partition=fs_id, device=f"/dev/sda{fs_id}",
                      type="ext4", mountpoint=mountpoint,
                      archive=Archive(kind=kind, pieces=[], uncompressed_size=0))


SET = BackupSet(path="/x", set_id="s", created="c", host="h", filesystems=[
    fs(1, "/"), fs(2, "/boot"), fs(3, "/boot/efi", kind="raw"), fs(4, "/srv/data"), fs(5, "")])


@pytest.mark.parametrize("path, fs_id, inner", [
    ("/", 1, b"/"), ("/etc/passwd", 1, b"/etc/passwd"), ("/boot", 2, b"/"),
    ("/boot/grub/grub.cfg", 2, b"/grub/grub.cfg"), ("/bootx", 1, b"/bootx"),
    ("/boot/efi/EFI", 2, b"/efi/EFI"),  # imaged filesystems have no catalog: their mount point is a dir of /boot
    ("/srv/data/", 4, b"/"), ("fs-5:/lost+found", 5, b"/lost+found"), ("fs-5:", 5, b"/"),
])
def test_longest_mount_point_wins(path, fs_id, inner):
    found, rel = resolve(SET, path)
    assert (found.id, rel) == (fs_id, inner)


def test_imaged_filesystem_has_no_file_list():
    with pytest.raises(RestoreError, match="saved as an image"):
        resolve(SET, "fs-3:/")
