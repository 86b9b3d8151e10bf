"""The tar scanner against archives written by GNU tar itself (the way backups are made)."""

import io
import os
import subprocess
import tarfile

import blake3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.core.backupset.archive import TAR_CREATE
from console.core.backupset.tarscan import TarScanner, normalize
from console.core.errors import RestoreError

LONG = "d" * 60 + "/" + "e" * 70 + "/" + "f" * 90


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("tree")
    (root / "dir").mkdir()
    (root / "dir/empty").write_bytes(b"")
    (root / "dir/small").write_bytes(b"hello\n")
    (root / "dir/block").write_bytes(b"b" * 512)
    (root / "dir/big").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    os.makedirs(root / os.path.dirname(LONG))
    (root / LONG).write_bytes(b"long name")
    with open(os.fsencode(root) + b"/dir/caf\xe9 \n", "wb") as f:
        f.write(b"non-utf8 name")
    with open(root / "dir/sparse", "wb") as f:
        f.truncate(20 * 1024 * 1024)
        f.seek(5 * 1024 * 1024)
        f.write(b"island" * 1000)
        f.seek(20 * 1024 * 1024 - 3)
        f.write(b"end")
    os.symlink("/nowhere", root / "dir/dangling")
    os.link(root / "dir/small", root / "dir/zz-hard")  # sorts after its target
    os.mkfifo(root / "dir/fifo")
    archive = subprocess.run(["tar", *TAR_CREATE, "-f", "-", "-C", str(root), "."],
                             capture_output=True, check=True).stdout
    return root, archive


def scan(archive, chunk):
    scanner = TarScanner()
    for i in range(0, len(archive), chunk):
        scanner.feed(archive[i : i + chunk])
    scanner.finish()
    return scanner.members


def test_members_match_the_tree(tree):
    root, archive = tree
    members = {m.path: m for m in scan(archive, 1 << 20)}
    assert members[b"/"].kind == "dir"
    for name in (b"/dir/empty", b"/dir/small", b"/dir/block", b"/dir/big", b"/dir/sparse",
                 b"/" + LONG.encode(), b"/dir/caf\xe9 \n"):
        content = open(os.fsencode(root) + name, "rb").read()
        assert members[name].kind == "file"
        assert members[name].size == len(content), name
        assert members[name].blake3 == blake3.blake3(content).digest(), name
    assert members[b"/dir/dangling"].kind == "symlink"
    assert members[b"/dir/dangling"].link == b"/nowhere"
    assert members[b"/dir/zz-hard"].kind == "hardlink"
    assert members[b"/dir/zz-hard"].link == b"/dir/small"
    assert members[b"/dir/fifo"].kind == "fifo"
    st = os.stat(root / "dir/small")
    assert members[b"/dir/small"].mtime_ns == st.st_mtime_ns
    assert members[b"/dir/small"].mode == st.st_mode & 0o7777


@settings(max_examples=25, deadline=None)
@given(chunk=st.integers(1, 70_000))
def test_any_chunking_gives_the_same_members(tree, chunk):
    _, archive = tree
    assert scan(archive, chunk) == scan(archive, len(archive))


def test_offset_and_length_cut_out_exactly_one_member(tree):
    _, archive = tree
    for member in scan(archive, 1 << 20):
        piece = archive[member.offset : member.offset + member.length] + bytes(1024)
        alone = TarScanner()
        alone.feed(piece)
        alone.finish()
        assert len(alone.members) == 1
        assert alone.members[0].path == member.path and alone.members[0].blake3 == member.blake3


def test_truncated_stream_is_reported(tree):
    _, archive = tree
    scanner = TarScanner(archive="fs-1.tar.zst")
    scanner.feed(archive[: len(archive) // 2])
    with pytest.raises(RestoreError, match="truncated"):
        scanner.finish()


def test_a_scan_that_loses_its_place_is_reported(tree):
    _, archive = tree
    with pytest.raises(RestoreError, match="not where one should be"):
        TarScanner().feed(archive[512:])  # starts inside the first member


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "a/../../b"])
def test_unsafe_names_are_refused(name):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(RestoreError, match="unsafe name"):
        TarScanner().feed(buf.getvalue())


def test_normalize():
    assert normalize(b"./") == b"/"
    assert normalize(b"./etc/passwd") == b"/etc/passwd"
    assert normalize(b"etc//x/") == b"/etc/x"


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_whole_chunk_and_byte_wise_scans_agree_on_every_kind_of_header(fmt):
    """A chunk holding whole members takes the fast path; one byte at a time never can. Both
    must read the same members from headers without pax records, with GNU long names, device
    numbers, the POSIX prefix field and base-256 numbers."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        def add(name, kind=tarfile.REGTYPE, data=b"", **fields):
            info = tarfile.TarInfo(name)
            info.type, info.size, info.mtime, info.mode = kind, len(data), 1_700_000_000, 0o4755
            for key, value in fields.items():
                setattr(info, key, value)
            tar.addfile(info, io.BytesIO(data) if data else None)
        add("./d", tarfile.DIRTYPE)
        add("./d/file", data=b"content " * 300, uid=1000, gid=100)
        add("./d/" + "p" * 120 + "/" + "n" * 60, data=b"prefix or long name")
        add("./d/tty", tarfile.CHRTYPE, devmajor=4, devminor=64)
        add("./d/link", tarfile.SYMTYPE, linkname="file")
        add("./d/hard", tarfile.LNKTYPE, linkname="./d/file")
        if fmt != tarfile.USTAR_FORMAT:
            add("./d/big-uid", data=b"x", uid=2 ** 40)  # base-256 (GNU) or a pax record
    archive = buf.getvalue()
    whole = scan(archive, len(archive))
    assert scan(archive, 1) == whole
    by_path = {m.path: m for m in whole}
    assert by_path[b"/d/file"].blake3 == blake3.blake3(b"content " * 300).digest()
    assert (by_path[b"/d/file"].uid, by_path[b"/d/file"].gid, by_path[b"/d/file"].mode) == \
        (1000, 100, 0o4755)
    assert by_path[b"/d/file"].mtime_ns == 1_700_000_000 * 10 ** 9
    assert (by_path[b"/d/tty"].devmajor, by_path[b"/d/tty"].devminor) == (4, 64)
    assert by_path[b"/d/hard"].link == b"/d/file" and by_path[b"/d/link"].link == b"file"
    assert b"/d/" + b"p" * 120 + b"/" + b"n" * 60 in by_path
    if fmt != tarfile.USTAR_FORMAT:
        assert by_path[b"/d/big-uid"].uid == 2 ** 40
