"""The set as one tree: where each filesystem goes, and rows, marks and totals across them."""

from console.core.backupset.catalog import Catalog
from console.core.backupset.entries import ALL, SOME
from console.core.backupset.manifest import BackupSet
from console.core.backupset.settree import SetTrees
from console.core.layout import Archive, Filesystem
from tests.catalogs import make_set_catalog


def the_set(tmp_path, trees: dict[int, dict], mountpoints: dict[int, str]):
    path = str(tmp_path / "catalog.sqlite")
    make_set_catalog(path, {fs: (tree, {}) for fs, tree in trees.items()})
    filesystems = [Filesystem(id=fs, disk="/dev/sda", partition=fs, device=f"/dev/sda{fs}",
                              type="ext4", mountpoint=mountpoints[fs],
                              archive=Archive("tar", [], 0)) for fs in trees]
    return BackupSet(path=str(tmp_path), set_id="s", created="c", host="h",
                     filesystems=filesystems), Catalog(path)


def test_nested_mounts_are_directories_and_a_missing_mount_point_is_a_tree_of_its_own(tmp_path):
    backup_set, catalog = the_set(tmp_path, {
        1: {b"/etc/fstab": ("file", 10), b"/var": ("dir", 0), b"/opt/x": ("file", 1)},
        2: {b"/lib": ("dir", 0), b"/log/syslog": ("file", 100)},  # /var, holding /var/lib
        3: {b"/db": ("file", 1000)},  # /var/lib
        4: {b"/a": ("file", 5)},  # /srv/www: / has no /srv
    }, {1: "/", 2: "/var", 3: "/var/lib", 4: "/srv/www"})
    with catalog:
        trees = SetTrees(backup_set, catalog)
        assert [(t.fs, t.base, t.mounts) for t in trees.trees] == [
            (1, b"", {b"/var": 2, b"/var/lib": 3}), (4, b"/srv/www", {})]
        for path in (b"/var", b"/var/lib"):
            trees.trees[0].expand_path(path)
        rows = trees.rows(0, trees.height)
        assert [(r.path, r.depth) for r in rows] == [
            (b"/", 0), (b"/etc", 1), (b"/opt", 1), (b"/var", 1), (b"/var/lib", 2),
            (b"/var/lib/db", 3), (b"/var/log", 2), (b"/srv/www", 0), (b"/srv/www/a", 1)]
        sizes = {r.path: r.bytes for r in rows}
        assert sizes[b"/"] == 10 + 1 + 100 + 1000 and sizes[b"/var"] == 1100
        trees.toggle_selected(trees.row_of(b"/var"))
        assert [(s.fs, s.rules) for s in trees.selections()] == [  # the filesystems
            (2, [(b"/", True)]), (3, [(b"/", True)])]
        trees.toggle_selected(trees.row_of(b"/var/lib"))
        marks = {r.path: r.mark for r in trees.rows(0, trees.height)}
        assert marks[b"/var"] == SOME and marks[b"/var/log"] == ALL and marks[b"/"] == SOME
        assert trees.totals().bytes == 100
        assert trees.parent_row(trees.row_of(b"/var/lib/db")) == trees.row_of(b"/var/lib")
        assert trees.parent_row(trees.row_of(b"/srv/www/a")) == trees.row_of(b"/srv/www")


def test_what_a_mounted_filesystem_hides_is_not_found(tmp_path):
    backup_set, catalog = the_set(tmp_path, {
        1: {b"/home/old-notes": ("file", 1)},  # under the mount point, hidden by /home
        2: {b"/anna/notes": ("file", 2)},
    }, {1: "/", 2: "/home"})
    with catalog:
        trees = SetTrees(backup_set, catalog)
        assert trees.search("notes").paths == [b"/home/anna/notes"]
        y = trees.next_match(0)
        assert trees.row(y).path == b"/home/anna/notes" and trees.is_open(b"/home/anna")
