"""A small three-filesystem set (catalog and manifest, no archives) for the picker's Pilot and
snapshot tests, and the tiny App that shows the picker and keeps what it returns: / with
/srv/data mounted on its empty /srv/data directory, and a scratch filesystem that had no mount
point."""

from __future__ import annotations

from textual.app import App

from console.core.applying.inplace import Place
from console.core.backupset.catalog import Catalog
from console.core.backupset.settree import SetTrees
from console.core.backupset.manifest import BackupSet
from console.core.layout import Archive, Filesystem
from console.tui.screens.file_picker import FilePickerScreen
from tests.catalogs import make_set_catalog

ROOT_TREE = {
    b"/etc/passwd": ("file", 1234),
    b"/etc/hostname": ("file", 12),
    b"/etc/ssh/sshd_config": ("file", 3210),
    b"/etc/ssh/ssh_config": ("file", 1650),
    b"/home/anna/caf\xe9.txt": ("file", 77),
    b"/home/anna/letter.odt": ("file", 48_000),
    b"/home/anna/link": ("symlink", 0),
    b"/var/log/syslog": ("file", 5_400_000),
    **{b"/var/spool/mail/m%04d" % i: ("file", 1000 + i) for i in range(1000)},
    b"/srv/data": ("dir", 0),  # the mount point of filesystem 3
}
DATA_TREE = {b"/www/index.html": ("file", 512), b"/www/logo.png": ("file", 20_480),
             b"/notes.txt": ("file", 15)}
SCRATCH_TREE = {b"/build/out.log": ("file", 2048)}
# Where the files can go back to: the disk restored earlier, and the original one, still there.
RESTORED_PLACE = Place({"/dev/sda": "/dev/sdb"}, "sdb (as /dev/sda)")
ORIGINAL_PLACE = Place({"/dev/sda": "/dev/sda"}, "sda (as /dev/sda)",
                       ["in use: /dev/sda2 is mounted at /"])


def make_set(tmp_path) -> tuple[BackupSet, str]:
    path = str(tmp_path / "catalog.sqlite")
    make_set_catalog(path, {2: (ROOT_TREE, {b"/home/anna/link": b"letter.odt"}),
                            3: (DATA_TREE, {}), 4: (SCRATCH_TREE, {})})
    filesystems = [
        Filesystem(id=2, disk="/dev/sda", partition=2, device="/dev/sda2", type="ext4",
                   mountpoint="/", archive=Archive("tar", [], 0)),
        Filesystem(id=3, disk="/dev/sda", partition=3, device="/dev/sda3", type="xfs",
                   mountpoint="/srv/data", archive=Archive("tar", [], 0)),
        Filesystem(id=4, disk="/dev/sda", partition=4, device="/dev/sda4", type="ext4",
                   label="scratch", mountpoint="", archive=Archive("tar", [], 0)),
    ]
    return BackupSet(path=str(tmp_path), set_id="s", created="c", host="h",
                     filesystems=filesystems), path


class PickerApp(App):
    """Shows the picker; `result` holds what it was dismissed with."""

    def __init__(self, tmp_path, places: list[Place] | None = None, theme: str = ""):
        super().__init__()
        if theme:
            self.theme = theme
        backup_set, path = make_set(tmp_path)
        self.catalog = Catalog(path)
        self.trees = SetTrees(backup_set, self.catalog)
        self.places = [RESTORED_PLACE] if places is None else places
        self.result = "not dismissed"

    def on_mount(self) -> None:
        self.push_screen(FilePickerScreen(self.trees, places=self.places),
                         self._done)

    def _done(self, choice) -> None:
        self.result = choice
