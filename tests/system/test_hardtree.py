"""The system-test helpers themselves: the source disk holds what it should, and the tree
comparison can both pass and fail. Checked with tools other than the helpers' own code."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.system.hardtree import is_sparse, rsync_differences, xattrs_and_acls_snapshot
from tests.system.images import (
    TYPE_ESP,
    TYPE_SWAP,
    attached,
    blkid_of,
    make_source_disk,
    mounted,
    populate_source_disk,
    sfdisk_json,
)

TOOLS = ("sfdisk", "losetup", "mount", "umount", "blkid", "mkfs.vfat", "mkfs.ext4", "mkfs.xfs",
         "mkswap", "rsync", "setfacl", "getfacl", "getfattr", "stat", "cp")
MISSING = [tool for tool in TOOLS if shutil.which(tool) is None]

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: loop devices, mount, mknod, chown"),
    pytest.mark.skipif(not os.path.exists("/dev/loop-control"), reason="no loop device support"),
    pytest.mark.skipif(bool(MISSING), reason=f"missing tools: {', '.join(MISSING)}"),
]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[Path, dict, dict]:
    image = tmp_path_factory.mktemp("source") / "source.img"
    layout = make_source_disk(image)
    return image, layout, populate_source_disk(image)


@pytest.fixture(scope="module")
def tree(source) -> Iterator[Path]:
    """The populated root filesystem, mounted read-only."""
    with attached(source[0], read_only=True) as disk, \
            mounted(disk.partition(2), "ext4", "ro") as root:
        yield root


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Iterator[Path]:
    """An ext4 of its own for copies: xattrs, ACLs and device nodes need a real filesystem."""
    image = tmp_path_factory.mktemp("scratch") / "scratch.img"
    with open(image, "wb") as f:
        f.truncate(256 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-L", "scratch", image], check=True)
    with attached(image) as disk, mounted(disk.device, "ext4") as root:
        yield root


@pytest.fixture
def copy(tree, scratch, request) -> Path:
    dst = scratch / request.node.name
    subprocess.run(["cp", "-a", tree, dst], check=True)
    return dst


def _stat(fmt: str, path: Path | str) -> str:
    return subprocess.run(["stat", "-c", fmt, path], check=True, capture_output=True,
                          text=True).stdout.strip()


def _getfacl(*args: str | Path) -> str:
    return subprocess.run(["getfacl", "-n", "--absolute-names", *args], check=True,
                          capture_output=True, text=True).stdout


def _getfattr(path: Path, pattern: str = "-") -> str:
    return subprocess.run(["getfattr", "-d", "-m", pattern, "-e", "hex", "--absolute-names",
                           path], check=True, capture_output=True, text=True).stdout


def test_disk_layout(source, tree):
    image, layout, info = source
    table = sfdisk_json(image)["partitiontable"]
    assert table["label"] == "gpt"
    parts = table["partitions"]
    assert [p["name"] for p in parts] == ["EFI system", "root", "data", "swap"]
    assert [p["type"] for p in (parts[0], parts[3])] == [TYPE_ESP, TYPE_SWAP]
    assert [p["size"] * table["sectorsize"] for p in parts] == \
        [p["size"] for p in layout["partitions"].values()]
    with attached(image, read_only=True) as disk:
        found = {n: blkid_of(disk.partition(n)) for n in layout["partitions"]}
    assert [(found[n]["TYPE"], found[n]["LABEL"]) for n in sorted(found)] == \
        [("vfat", "EFI"), ("ext4", "root"), ("xfs", "data"), ("swap", "swap")]
    assert info["uuid"] == {label: found[n]["UUID"] for n, label in
                            zip(sorted(found), ("EFI", "root", "data", "swap"))}
    fstab = (tree / "etc/fstab").read_text()
    for entry in (f"UUID={info['uuid']['root']}", "LABEL=data", f"PARTUUID={parts[0]['uuid']}",
                  f"UUID={info['uuid']['swap']}"):
        assert entry in fstab
    assert (tree / "srv/data").is_dir() and (tree / "boot/efi").is_dir()


def test_tree_has_every_hard_case(source, tree):
    info = source[2]
    sparse = tree / info["sparse"]
    size, blocks = map(int, _stat("%s %b", sparse).split())
    assert size == 64 * 1024 * 1024 and blocks * 512 < 1024 * 1024 and is_sparse(sparse)

    assert "user:1234:rw-" in _getfacl(tree / info["acl_file"])
    assert "group:5678:r--" in _getfacl(tree / info["acl_file"])
    assert "user:1234:rwx" in _getfacl("-d", tree / info["default_acl_dir"])
    xattrs = _getfattr(tree / info["xattr_file"])
    assert f'user.comment=0x{b"hello, world".hex()}' in xattrs
    assert f'user.binary=0x{bytes(range(256)).hex()}' in _getfattr(tree / "xattrs/binary")
    if info["security_xattr"]:
        assert "security.restoretest=" in _getfattr(tree / "xattrs/security", "security")

    assert _stat("%F %t:%T", tree / info["char_device"]) == "character special file 1:3"
    assert _stat("%F %t:%T", tree / info["block_device"]) == "block special file 8:1"
    assert _stat("%F", tree / info["fifo"]) == "fifo"
    assert _stat("%a %u:%g", tree / info["setuid_file"]) == "4755 1234:5678"
    assert _stat("%a", tree / "modes/sticky-1777") == "1777"
    assert _stat("%a", tree / "modes/none-0000") == "0"

    links = {_stat("%h %i", tree / name) for name in info["hard_links"]}
    assert len(links) == 1 and links.pop().startswith("3 ")
    assert os.readlink(tree / info["symlinks"]["dangling"]) == "does/not/exist"
    assert not (tree / info["symlinks"]["dangling"]).exists()

    assert len(os.fsencode(info["long_path"])) > 255 and (tree / info["long_path"]).is_file()
    assert len(os.fsencode(Path(info["name_255"]).name)) == 255
    assert (tree / info["name_255"]).is_file()
    odd = {os.fsencode(name) for name in info["odd_names"]}
    assert odd >= {b"names/caf\xe9", b"names/\xff\xfe"}
    for name in info["odd_names"]:
        assert os.path.lexists(os.fsencode(tree / name))
    for name in info["empty_dirs"]:
        assert (tree / name).is_dir()
    assert not os.listdir(tree / "empty/nested-empty")


def test_mtimes_are_set_last_and_keep_nanoseconds(tree):
    """Every mtime, directories included, is the fixed old one: nothing touched it afterwards."""
    recent = time.time_ns() - 86400 * 10**9
    for dirpath, dirnames, filenames in os.walk(os.fsencode(tree)):
        for path in [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]:
            mtime = os.lstat(path).st_mtime_ns
            assert mtime < recent and mtime % 1000, path


def test_rsync_finds_no_difference_between_equal_trees(tree, copy):
    assert rsync_differences(tree, tree) == []
    assert rsync_differences(tree, copy) == []
    assert xattrs_and_acls_snapshot(tree) == xattrs_and_acls_snapshot(copy)


def _set_comment(copy: Path) -> None:
    os.setxattr(copy / "xattrs/text", "user.comment", b"hello, World")


def _break_hard_link(copy: Path) -> None:
    third = copy / "links/b/third"
    parent = third.parent.stat()
    third.unlink()
    subprocess.run(["cp", "-a", copy / "links/a/first", third], check=True)
    # Only the link may differ, not the directory's mtime.
    os.utime(third.parent, ns=(parent.st_atime_ns, parent.st_mtime_ns))


def _change_content_keep_size_and_mtime(copy: Path) -> None:
    path = copy / "content/size-513"
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _shift_mtime_by_a_nanosecond(copy: Path) -> None:
    st = (copy / "content/size-1").stat()
    os.utime(copy / "content/size-1", ns=(st.st_atime_ns, st.st_mtime_ns + 1))


CHANGES = {
    "mode": ("modes/private-0600", lambda c: os.chmod(c / "modes/private-0600", 0o644)),
    "xattr": ("xattrs/text", _set_comment),
    "acl": ("acl/access-acl",
            lambda c: subprocess.run(["setfacl", "-m", "u:1234:r", c / "acl/access-acl"],
                                     check=True)),
    "owner": ("owners/nobody", lambda c: os.chown(c / "owners/nobody", 65534, 0)),
    "mtime-ns": ("content/size-1", _shift_mtime_by_a_nanosecond),
    "content": ("content/size-513", _change_content_keep_size_and_mtime),
    "hard-link": ("links/b/third", _break_hard_link),
}


@pytest.mark.parametrize("change", CHANGES)
def test_rsync_detects_a_change(tree, copy, change):
    path, modify = CHANGES[change]
    modify(copy)
    differences = rsync_differences(tree, copy)
    # One line per changed entry; a broken hard link reads "hf ... third => links/a/first".
    assert differences and all(path in line for line in differences), differences
    if change in ("xattr", "acl"):
        before, after = xattrs_and_acls_snapshot(tree), xattrs_and_acls_snapshot(copy)
        assert {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)} == \
            {path}
