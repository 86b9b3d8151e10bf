"""Backup of a real GPT disk image and restore onto a second image of the same size, checked with
independent tools: sfdisk --json, blkid, rsync -naHAX --checksum, stat."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import blake3
import pytest

from tests.system.clitool import cli, cli_backup
from tests.system.hardtree import is_sparse, rsync_differences, xattrs_and_acls_snapshot
from tests.system.images import (
    attached,
    blkid_of,
    make_source_disk,
    mounted,
    populate_source_disk,
    sfdisk_json,
)

pytestmark = pytest.mark.system

# Read-only mounts that leave both images untouched; the restored xfs has the source's UUID.
RO = {2: ("ext4", "ro,noload"), 3: ("xfs", "ro,norecovery,nouuid")}
MIN_FILES = {2: 40, 3: 2}  # what populate_source_disk puts there, so no comparison is vacuous



@pytest.fixture(scope="module")
def images(tmp_path_factory):
    base = tmp_path_factory.mktemp("fidelity")
    source = base / "source.img"
    make_source_disk(source, 512)
    info = populate_source_disk(source)
    set_dir = cli_backup(source, base / "set")
    name = json.loads(cli("inspect", str(set_dir), "--json").stdout)["disks"][0]["name"]
    target = base / "target.img"
    with open(target, "wb") as f:
        f.truncate(source.stat().st_size)
    proc = cli("restore", str(set_dir), "--map", f"{name}={target}", "--yes")
    assert proc.returncode == 0, proc.stderr
    return source, target, set_dir, info


def _table(image: Path) -> dict:
    table = sfdisk_json(image)["partitiontable"]
    for part in table["partitions"]:
        part.pop("node")
    table.pop("device")
    # pyparted starts GPT's usable area at LBA 34; sfdisk put it at 2048. Partitions are unmoved.
    table.pop("firstlba", None)
    return table


def test_partition_table_is_the_same(images):
    source, target, _, _ = images
    assert _table(target) == _table(source)
    assert len(_table(source)["partitions"]) == 4


def test_filesystems_keep_uuid_and_label(images):
    source, target, _, _ = images
    keys = ("TYPE", "UUID", "LABEL", "PARTUUID", "PARTLABEL")
    with attached(source, read_only=True) as src, attached(target, read_only=True) as dst:
        for n in (1, 2, 3, 4):
            a, b = blkid_of(src.partition(n)), blkid_of(dst.partition(n))
            assert a.get("UUID") and a.get("LABEL")
            assert {k: a.get(k) for k in keys} == {k: b.get(k) for k in keys}, n


@pytest.mark.parametrize("number", [2, 3])
def test_restored_tree_is_identical(images, number):
    source, target, _, _ = images
    fstype, options = RO[number]
    with attached(source, read_only=True) as src, attached(target, read_only=True) as dst, \
            mounted(src.partition(number), fstype, options) as a, \
            mounted(dst.partition(number), fstype, options) as b:
        assert rsync_differences(Path(a), Path(b)) == []
        assert xattrs_and_acls_snapshot(Path(a)) == xattrs_and_acls_snapshot(Path(b))
        # The comparison is not vacuous: the tree has files in it.
        assert sum(len(files) for _, _, files in os.walk(b)) >= MIN_FILES[number]


def test_sparse_file_is_still_sparse(images):
    _, target, _, info = images
    with attached(target, read_only=True) as dst, mounted(dst.partition(2), *RO[2]) as root:
        path = Path(root, info["sparse"])
        assert path.stat().st_size > 32 * 1024 * 1024
        assert is_sparse(path)


def test_raw_partition_is_byte_identical(images):
    source, target, _, _ = images
    with attached(source, read_only=True) as src, attached(target, read_only=True) as dst:
        digests = []
        for loop in (src, dst):
            hasher = blake3.blake3()
            with open(loop.partition(1), "rb") as f:
                hasher.update(f.read())
            digests.append(hasher.hexdigest())
        assert digests[0] == digests[1]


@contextlib.contextmanager
def nested_mount(device: str, where: Path):
    subprocess.run(["mount", "-t", "xfs", "-o", "nouuid", device, str(where)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_verify_passes_and_notices_a_change(images, tmp_path):
    _, target, set_dir, _ = images
    with attached(target) as dst, mounted(dst.partition(2), "ext4") as root, \
            nested_mount(dst.partition(3), Path(root, "srv/data")):
        proc = cli("verify", str(set_dir), "--root", root, "--json")
        result = json.loads(proc.stdout)
        assert proc.returncode == 0 and result["ok"], result["differences"][:5]
        assert result["checked"] > 50
        victim = Path(root, "etc/fstab")
        content = victim.read_bytes()
        stat = victim.stat()
        victim.write_bytes(content.replace(b"/", b"|", 1))
        os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        proc = cli("verify", str(set_dir), "--root", root, "--json")
        result = json.loads(proc.stdout)
        assert proc.returncode == 1
        assert {"path": "/etc/fstab", "what": "content differs (BLAKE3)"} in result["differences"]
        victim.write_bytes(content)
        os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_set_describes_the_layout(images):
    _, _, set_dir, _ = images
    data = json.loads(cli("inspect", str(set_dir), "--json").stdout)
    by_type = {fs["type"]: fs for fs in data["filesystems"]}
    assert by_type["ext4"]["mountpoint"] == "/"
    assert by_type["xfs"]["mountpoint"] == "/srv/data"
    assert by_type["vfat"]["mountpoint"] == "/boot/efi"
    assert by_type["vfat"]["archive"]["kind"] == "raw"  # the ESP is kept byte for byte
    assert by_type["swap"]["archive"] is None
    assert data["bootloader"]["kind"] == "efi"
    listing = json.loads(cli("ls", str(set_dir), "/srv/data", "--json").stdout)
    assert listing and all(entry["fs"] == by_type["xfs"]["id"] for entry in listing)


def test_a_reader_that_goes_away_is_not_an_error(images):
    _, _, set_dir, _ = images
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `restore-console inspect SET --json | head` after head has exited
    try:
        proc = subprocess.run([sys.executable, "-m", "console", "--log", "/dev/null", "inspect",
                               str(set_dir), "--json"],
                              stdout=write_end, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write_end)
    assert proc.returncode == 0
    assert proc.stderr == ""


def test_the_metadata_pass_notices_mode_and_owner_not_content(images):
    from console.core.applying.verify import VerifyResult, check_filesystem
    from console.core.backupset.catalog import Catalog
    from console.core.backupset.manifest import load_set
    from console.core.events import Progress
    _, target, set_dir, _ = images
    backup_set = load_set(str(set_dir))
    root_fs = next(fs for fs in backup_set.filesystems if fs.mountpoint == "/")
    with attached(target) as dst, mounted(dst.partition(2), "ext4") as root:
        fstab = Path(root, "etc/fstab")
        before = fstab.stat()
        content = fstab.read_bytes()
        os.chmod(fstab, 0o600)
        os.chown(fstab, 4321, 4321)
        fstab.write_bytes(content.replace(b"/", b"|", 1))
        os.utime(fstab, ns=(before.st_atime_ns, before.st_mtime_ns))
        try:
            found = VerifyResult()
            with Catalog(backup_set.catalog_path) as catalog:
                check_filesystem(catalog, root_fs, str(root), {"/", "/srv/data", "/boot/efi"},
                                 found, Progress("test"), content=False)
            problems = {d.what.split()[0] for d in found.differences if d.path == "/etc/fstab"}
            assert problems == {"mode", "owner"}, found.differences
            assert found.checked > 40
        finally:
            fstab.write_bytes(content)
            os.chmod(fstab, before.st_mode & 0o7777)
            os.chown(fstab, before.st_uid, before.st_gid)
            os.utime(fstab, ns=(before.st_atime_ns, before.st_mtime_ns))


@contextlib.contextmanager
def kept_times(*paths: Path):
    """Puts back the times of directories an added entry changes: the extras alone differ."""
    before = {path: path.stat() for path in paths}
    yield
    for path, st in before.items():
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@contextlib.contextmanager
def foreign_mount(where: Path, name: str):
    """A tmpfs holding file `name` over a directory of the set, its root looking like that
    directory (mode, owner, times): another filesystem, not the set's."""
    st = where.stat()
    options = f"mode={st.st_mode & 0o7777:o},uid={st.st_uid},gid={st.st_gid}"
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)
    try:
        (where / name).write_text("on another filesystem\n")
        os.utime(where, ns=(st.st_atime_ns, st.st_mtime_ns))
        yield
    finally:
        subprocess.run(["umount", str(where)], check=True)


# Added on the restored target: a file, a directory holding more, a file on the nested xfs.
EXTRAS = ["/etc/added.conf", "/extra-dir", "/srv/data/added.txt"]
EXTRA = "extra: on disk, not in the set"


@contextlib.contextmanager
def mounted_target(target: Path):
    """The restored / with its /srv/data, read-write."""
    with attached(target) as dst, mounted(dst.partition(2), "ext4") as root, \
            nested_mount(dst.partition(3), Path(root, "srv/data")):
        yield Path(root)


def add_extras(root: Path) -> None:
    with kept_times(root, root / "etc", root / "srv/data"):
        (root / "etc/added.conf").write_text("added after the restore\n")
        (root / "extra-dir/inside").mkdir(parents=True)
        (root / "extra-dir/inside/file").write_text("not listed: its directory is\n")
        (root / "srv/data/added.txt").write_text("on the nested xfs\n")


def remove_extras(root: Path) -> None:
    with kept_times(root, root / "etc", root / "srv/data"):
        subprocess.run(["rm", "-rf", *(str(root) + path for path in EXTRAS)], check=True)


def test_compare_reports_what_was_added_on_the_disk_as_extra(images):
    from console.core.applying.targetroot import verify_targets
    _, target, set_dir, _ = images
    name = json.loads(cli("inspect", str(set_dir), "--json").stdout)["disks"][0]["name"]
    try:
        with mounted_target(target) as root:
            add_extras(root)
            with foreign_mount(root / "boot/efi", "on-the-tmpfs"):
                proc = cli("verify", str(set_dir), "--root", str(root), "--json")
                text = cli("verify", str(set_dir), "--root", str(root))
        # The Compare of the console mounts the disks itself, read-only.
        compared = verify_targets(str(set_dir), {name: str(target)})
    finally:
        with mounted_target(target) as root:
            remove_extras(root)
    result = json.loads(proc.stdout)
    assert proc.returncode == 1 and not result["ok"]
    assert result["differences"] == [{"path": path, "what": EXTRA} for path in EXTRAS]
    assert result["extra"] == 3
    assert text.returncode == 1
    assert text.stdout.splitlines()[:3] == [f"{path}: {EXTRA}" for path in EXTRAS]
    assert text.stdout.splitlines()[-1].endswith(
        " checked, 3 extra entries on disk, not in the set (1 mount point not: another "
        "filesystem is mounted over it).")
    assert [(d.path, d.what) for d in compared.differences] == [(p, EXTRA) for p in EXTRAS]
