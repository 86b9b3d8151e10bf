"""btrfs subvolumes round-trip: a GPT disk with one btrfs holding @ (the default), @home, a
subvolume nested in @ (@/var/lib/machines), a read-only snapshot @snap1 of @, a file in the
top level and quotas with a limit on @home; an fstab inside @ mounts subvol=@ at / and
subvol=@home at /home. Backed up, restored onto a disk of the same size and onto a larger one,
and checked with btrfs-progs (subvolume list, get-default, property get ro, qgroup show) and
rsync -naHAX --checksum, subvolume by subvolume."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from console.core.backupset.manifest import load_set
from tests.system.clitool import cli, cli_backup
from tests.system.hardtree import rsync_differences
from tests.system.images import MiB, attached, blkid_of, mounted

pytestmark = pytest.mark.system

DISK_MIB = 320
LARGER_MIB = 480
SUBVOLUMES = {"@", "@home", "@/var/lib/machines", "@snap1"}
READ_ONLY = {"@snap1"}
HOME_LIMIT = 100 * MiB


def _run(*args: str) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout


def _btrfs_needed() -> None:
    if shutil.which("btrfs") is None or shutil.which("mkfs.btrfs") is None:
        pytest.skip("needs btrfs-progs")
    with open("/proc/filesystems") as f:
        if "btrfs" not in f.read():
            subprocess.run(["modprobe", "btrfs"], capture_output=True)
    with open("/proc/filesystems") as f:
        if "btrfs" not in f.read():
            pytest.skip("this kernel does not mount btrfs")


def _image(path: Path, size_mib: int, table: str | None) -> None:
    with open(path, "wb") as f:
        f.truncate(size_mib * MiB)
    if table is not None:
        subprocess.run(["sfdisk", "-q", str(path)], input=table, text=True, check=True)


def make_subvolume_disk(path: Path) -> str:
    """The disk the issue describes; returns the btrfs UUID."""
    _image(path, DISK_MIB, "label: gpt\nsize=16M, type=L\nsize=280M, type=L\n")
    with attached(path) as disk:
        _run("mkfs.ext4", "-q", "-L", "boot", disk.partition(1))
        _run("mkfs.btrfs", "-q", "-L", "fedora", disk.partition(2))
        uuid = blkid_of(disk.partition(2))["UUID"]
        boot_uuid = blkid_of(disk.partition(1))["UUID"]
        with mounted(disk.partition(1)) as boot:
            (boot / "vmlinuz").write_bytes(os.urandom(4096))
        with mounted(disk.partition(2), "btrfs") as top:
            for sub in ("@", "@home"):
                _run("btrfs", "-q", "subvolume", "create", str(top / sub))
            root, home = top / "@", top / "@home"
            (root / "etc").mkdir()
            (root / "etc/fstab").write_text(
                f"UUID={uuid} / btrfs subvol=@,compress=zstd 0 0\n"
                f"UUID={uuid} /home btrfs subvol=/@home 0 0\n"
                f"UUID={boot_uuid} /boot ext4 defaults 0 2\n")
            (root / "etc/hostname").write_text("subvolumes\n")
            (root / "boot").mkdir()
            (root / "home").mkdir()
            (root / "usr/bin").mkdir(parents=True)
            (root / "usr/bin/tool").write_bytes(os.urandom(200_000))
            os.chmod(root / "usr/bin/tool", 0o755)
            os.link(root / "usr/bin/tool", root / "usr/bin/tool-link")
            os.symlink("tool", root / "usr/bin/tool-symlink")
            os.setxattr(root / "etc/hostname", "user.origin", b"test")
            (root / "var/lib").mkdir(parents=True)
            _run("btrfs", "-q", "subvolume", "create", str(root / "var/lib/machines"))
            (root / "var/lib/machines/guest.raw").write_bytes(os.urandom(50_000))
            (home / "anna").mkdir()
            (home / "anna/notes.txt").write_text("only in @home\n")
            os.chown(home / "anna", 1000, 1000)
            os.chown(home / "anna/notes.txt", 1000, 1000)
            (top / "top-level-note").write_text("in the top level itself\n")
            _run("btrfs", "-q", "subvolume", "snapshot", "-r", str(root), str(top / "@snap1"))
            # @ moves on after the snapshot: the two must come back different.
            (root / "etc/hostname").write_text("subvolumes-after-snapshot\n")
            (root / "etc/new-after-snapshot").write_text("not in @snap1\n")
            _run("btrfs", "subvolume", "set-default", str(root))
            _run("btrfs", "quota", "enable", str(top))
            _run("btrfs", "qgroup", "limit", str(HOME_LIMIT), str(home))
    return uuid


def _subvolume_facts(top: Path) -> dict[str, dict]:
    """path -> read-only flag, by btrfs-progs alone; plus the default's path under ""."""
    listed = _run("btrfs", "subvolume", "list", str(top))
    paths = [line.split(" path ", 1)[1] for line in listed.splitlines() if " path " in line]
    facts = {p: {"ro": _run("btrfs", "property", "get", "-ts", str(top / p), "ro").strip()}
             for p in paths}
    default = _run("btrfs", "subvolume", "get-default", str(top))
    return {"subvolumes": facts, "default": default.split(" path ", 1)[-1].strip()}


# The directory a snapshot holds where its source had a nested subvolume is no inode on disk:
# btrfs makes it up (inode 2) each time it is read, with the time of that read as its times.
# Restored, it is a plain empty directory with the times the backup read.
STAND_IN_INODE = 2


def _differences(before: Path, after: Path) -> list[str]:
    """rsync's differences, but the times of the stand-in directories (made up by btrfs)."""
    found = []
    for line in rsync_differences(before, after):
        flags, _, path = line.partition(" ")
        if flags.startswith(".d") and flags[2:].strip(".") == "t" and \
                os.lstat(before / path).st_ino == STAND_IN_INODE:
            continue
        found.append(line)
    return found


def _ids(top: Path) -> dict[str, str]:
    listed = _run("btrfs", "subvolume", "list", str(top))
    return {line.split(" path ", 1)[1]: line.split()[1] for line in listed.splitlines()}


def _home_limit(top: Path) -> int | None:
    shown = _run("btrfs", "qgroup", "show", "-re", "--raw", str(top))
    for line in shown.splitlines():
        fields = line.split()
        if fields and fields[-1] == "@home":
            return None if fields[3] == "none" else int(fields[3])
    return None


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    _btrfs_needed()
    base = tmp_path_factory.mktemp("subvolumes")
    image = base / "source.img"
    uuid = make_subvolume_disk(image)
    set_dir = cli_backup(image, base / "set")
    return image, set_dir, uuid


def _restored(base: Path, set_dir: Path, size_mib: int) -> Path:
    name = json.loads(cli("inspect", str(set_dir), "--json").stdout)["disks"][0]["name"]
    target = base / f"target-{size_mib}.img"
    _image(target, size_mib, None)
    proc = cli("restore", str(set_dir), "--map", f"{name}={target}", "--yes")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return target


def test_the_manifest_records_every_subvolume(source):
    _, set_dir, _ = source
    backup_set = load_set(str(set_dir))
    btrfs = next(fs for fs in backup_set.filesystems if fs.type == "btrfs")
    found = {s.path: s for s in btrfs.subvolumes}
    assert set(found) == SUBVOLUMES
    assert {p for p, s in found.items() if s.read_only} == READ_ONLY
    assert [p for p, s in found.items() if s.default] == ["@"]
    assert found["@snap1"].parent_uuid == found["@"].uuid != ""
    assert found["@/var/lib/machines"].parent_id == found["@"].id
    assert (found["@"].mountpoint, found["@home"].mountpoint) == ("/", "/home")
    assert found["@/var/lib/machines"].mountpoint == "/var/lib/machines"
    assert found["@snap1"].mountpoint == ""
    assert btrfs.quota and found["@home"].max_referenced == HOME_LIMIT
    assert btrfs.mountpoint == ""  # the top level itself was not mounted
    shown = cli("inspect", str(set_dir))
    assert "@snap1  id" in shown.stdout and "read-only" in shown.stdout
    assert "mounted at /home" in shown.stdout


@pytest.fixture(scope="module")
def on_tape(source, tmp_path_factory) -> Path:
    """The same disk backed up onto a tape image: each subvolume's archive a tape file."""
    image = source[0]
    tap = tmp_path_factory.mktemp("subvolumes-tape") / "set.tap"
    proc = cli("backup", "--disk", str(image), "--tape", str(tap))
    assert proc.returncode == 0, proc.stderr
    return tap


@pytest.mark.parametrize("size_mib,medium", [(DISK_MIB, "directory"), (LARGER_MIB, "directory"),
                                             (DISK_MIB, "tape")],
                         ids=["same-size", "larger", "same-size-from-tape"])
def test_every_subvolume_comes_back_with_its_flags_default_and_content(source, size_mib, medium,
                                                                       request, tmp_path):
    image, set_dir, uuid = source
    if medium == "tape":
        set_dir = request.getfixturevalue("on_tape")
    target = _restored(tmp_path, set_dir, size_mib)
    with attached(image, read_only=True) as src, attached(target) as dst:
        assert blkid_of(dst.partition(2))["UUID"] == uuid
        with mounted(src.partition(2), "btrfs", "ro,subvolid=5") as before, \
                mounted(dst.partition(2), "btrfs", "ro,subvolid=5") as after:
            was, now = _subvolume_facts(before), _subvolume_facts(after)
            assert set(now["subvolumes"]) == SUBVOLUMES
            assert now == was
            assert now["default"] == "@"
            # Made in the order of the source's ids, parents first: the ids come back too.
            assert _ids(after) == _ids(before)
            assert now["subvolumes"]["@snap1"]["ro"] == "ro=true"
            assert _home_limit(after) == HOME_LIMIT
            for sub in sorted(SUBVOLUMES):
                assert _differences(before / sub, after / sub) == [], sub
            assert _differences(before, after) == []  # the top level, all of it
            assert (after / "@snap1/etc/hostname").read_text() == "subvolumes\n"
            assert not (after / "@snap1/etc/new-after-snapshot").exists()
        # The restored fstab mounts: subvol=@ at /, subvol=@home at /home.
        with mounted(dst.partition(2), "btrfs", "ro") as default_root:
            fstab = (default_root / "etc/fstab").read_text().splitlines()
            assert (default_root / "etc/new-after-snapshot").exists()
        for line in fstab:
            spec, point, fstype, options = line.split()[:4]
            if fstype != "btrfs":
                continue
            subvol = next(o for o in options.split(",") if o.startswith("subvol="))
            with mounted(dst.partition(2), "btrfs", f"ro,{subvol}") as where:
                wanted = "etc/fstab" if point == "/" else "anna/notes.txt"
                assert (where / wanted).is_file(), line


def test_the_restored_disk_compares_equal_with_each_subvolume_at_its_mount_point(source,
                                                                                 tmp_path):
    from console.core.applying.targetroot import verify_targets
    _, set_dir, _ = source
    target = _restored(tmp_path, set_dir, DISK_MIB)
    name = load_set(str(set_dir)).disks[0].name
    result = verify_targets(str(set_dir), {name: str(target)})
    assert result.differences == []
    # Every entry of @, @home, machines and /boot is compared, but @'s directories where
    # @home, machines and /boot are mounted; the top level and @snap1 had no mount point on
    # the machine, and are said to be left out of this comparison.
    assert (result.checked, result.covered) == (15 + 3 + 2 + 3 - 3, 3)
    assert any("@snap1" in s for s in result.skipped), result.skipped
    # The comparison is not vacuous: a file changed on the restored @home is found.
    with attached(target) as dst, mounted(dst.partition(2), "btrfs", "subvol=/@home") as home:
        (home / "anna/notes.txt").write_text("changed\n")
    changed = verify_targets(str(set_dir), {name: str(target)})
    assert {d.path for d in changed.differences} == {"/home/anna/notes.txt"}


def test_a_file_of_home_comes_back_alone(source, tmp_path):
    _, set_dir, _ = source
    into = tmp_path / "into"
    proc = cli("restore", str(set_dir), "--only", "/home/anna/notes.txt", "--into", str(into))
    assert proc.returncode == 0, proc.stderr
    assert (into / "home/anna/notes.txt").read_text() == "only in @home\n"
    assert (into / "home/anna").stat().st_uid == 1000
    assert sorted(p.name for p in into.rglob("*")) == ["anna", "home", "notes.txt"]


def test_ls_shows_each_subvolume_where_it_was_mounted(source):
    _, set_dir, _ = source
    home = cli("ls", str(set_dir), "/home")
    assert home.returncode == 0, home.stderr
    assert home.stdout.split()[-1] == "anna"
    anna = cli("ls", str(set_dir), "/home/anna")
    assert "notes.txt" in anna.stdout
    root = cli("ls", str(set_dir), "/etc")
    assert "new-after-snapshot" in root.stdout and "fstab" in root.stdout
    machines = cli("ls", str(set_dir), "/var/lib/machines")
    assert "guest.raw" in machines.stdout
    # The snapshot was not mounted: it is in the top level, at its path.
    snapshot = cli("ls", str(set_dir), "fs-2:/@snap1/etc")
    assert snapshot.returncode == 0, snapshot.stderr
    assert "hostname" in snapshot.stdout and "new-after-snapshot" not in snapshot.stdout
    top = cli("ls", str(set_dir), "fs-2:/")
    assert {"@", "@home", "@snap1", "top-level-note"} <= set(top.stdout.split())
    found = cli("ls", str(set_dir), "/home", "--search", "notes.txt")
    assert "/home/anna/notes.txt" in found.stdout
    # For scripts: the filesystem's number as inspect gives it, and the subvolume by path.
    listed = json.loads(cli("ls", str(set_dir), "/home/anna", "--json").stdout)
    assert {(e["fs"], e["subvolume"]) for e in listed} == {(2, "@home")}
    top_listed = json.loads(cli("ls", str(set_dir), "fs-2:/", "--json").stdout)
    assert {(e["fs"], e["subvolume"]) for e in top_listed} == {(2, None)}


def test_the_picker_tree_holds_the_subvolumes(source):
    from console.core.backupset.catalog import Catalog
    from console.core.backupset.settree import SetTrees
    _, set_dir, _ = source
    backup_set = load_set(str(set_dir))
    with Catalog(backup_set.catalog_path) as catalog:
        trees = SetTrees(backup_set, catalog)
        titles = [tree.root_name for tree in trees.trees]
        assert titles[0] == "/"
        assert any("subvolumes not mounted: @snap1" in t for t in titles), titles
        machine = trees.trees[0]
        assert machine.locate(b"/home/anna")[1] == b"/anna"
        top = next(t for t in trees.trees if t.base == b"fs-2:")
        fs_id, inner = top.locate(b"/@snap1/etc/hostname")
        assert inner == b"/etc/hostname" and fs_id != 2


def test_a_layout_that_keeps_the_top_level_as_default_finds_its_fstab_in_at(tmp_path):
    """Ubuntu's: the default stays the top level (id 5), / is subvol=@: the fstab is found in
    @, and the restore leaves the default as it was."""
    _btrfs_needed()
    image = tmp_path / "ubuntu.img"
    _image(image, 200, "label: gpt\nsize=160M, type=L\n")
    with attached(image) as disk:
        _run("mkfs.btrfs", "-q", disk.partition(1))
        uuid = blkid_of(disk.partition(1))["UUID"]
        with mounted(disk.partition(1), "btrfs") as top:
            for sub in ("@", "@home"):
                _run("btrfs", "-q", "subvolume", "create", str(top / sub))
            (top / "@/etc").mkdir()
            (top / "@/etc/fstab").write_text(f"UUID={uuid} / btrfs defaults,subvol=@ 0 1\n"
                                             f"UUID={uuid} /home btrfs subvol=@home 0 2\n")
            (top / "@home/ubuntu.txt").write_text("home\n")
    set_dir = cli_backup(image, tmp_path / "set")
    btrfs = load_set(str(set_dir)).filesystems[0]
    assert {s.path: (s.mountpoint, s.default) for s in btrfs.subvolumes} == {
        "@": ("/", False), "@home": ("/home", False)}
    assert "ubuntu.txt" in cli("ls", str(set_dir), "/home").stdout
    target = _restored(tmp_path, set_dir, 200)
    with attached(target) as dst, mounted(dst.partition(1), "btrfs", "ro") as top:
        assert _run("btrfs", "subvolume", "get-default", str(top)).startswith("ID 5 ")
        assert (top / "@home/ubuntu.txt").read_text() == "home\n"


def test_the_start_screen_counts_the_subvolumes_and_all_their_entries(source):
    from console.tui.screens.start import partition_lines
    _, set_dir, _ = source
    backup_set = load_set(str(set_dir))
    btrfs = next(fs for fs in backup_set.filesystems if fs.type == "btrfs")
    entries = sum(a.members for a in btrfs.archives)
    line = " ".join(partition_lines(backup_set, backup_set.disks[0])[1].split())
    assert f"{entries} entries, 4 subvolumes, label fedora" in line
