"""Rewriting a member's pax header, and reading a seekable archive forward from a pipe."""

import io
import os
import random
import subprocess
import tarfile
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.core.backupset.archive import TAR_CREATE
from console.core.backupset.paxedit import HeaderRewriter, pax_records
from console.core.backupset.seekable import ForwardReader, SeekableReader, SeekableWriter
from console.core.backupset.tarscan import TarScanner


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("tree")
    (root / "d").mkdir()
    (root / "d/file").write_bytes(b"content " * 300)
    os.setxattr(root / "d/file", "user.k", b"v")
    os.link(root / "d/file", root / "d/link")
    data = subprocess.run(["tar", *TAR_CREATE, "-f", "-", "-C", str(root), "."],
                          capture_output=True, check=True).stdout
    scanner = TarScanner()
    scanner.feed(data)
    scanner.finish()
    return data, {m.path: m for m in scanner.members}


def test_records_count_their_own_length():
    for value in (b"", b"x" * 5, b"y" * 92, b"z" * 993):  # lengths that change digit counts
        record = pax_records({b"path": value})
        length, _, rest = record.partition(b" ")
        assert int(length) == len(record) and rest == b"path=" + value + b"\n"


@settings(max_examples=20, deadline=None)
@given(chunk=st.integers(1, 3000), name=st.binary(min_size=1, max_size=300).filter(
    lambda b: b"\0" not in b and b"\n" not in b and b"/" not in b and b not in (b".", b"..")))
def test_a_renamed_member_reads_back_with_its_new_name_and_everything_else(archive, chunk, name):
    data, members = archive
    member = members[b"/d/file"]
    piece = data[member.offset : member.offset + member.length]
    rewriter = HeaderRewriter({b"path": b"./d/" + name})
    out = b"".join(rewriter.feed(piece[i : i + chunk]) for i in range(0, len(piece), chunk))
    scanner = TarScanner()
    scanner.feed(out + bytes(1024))
    scanner.finish()
    (renamed,) = scanner.members
    assert renamed.path == b"/d/" + name
    assert renamed.blake3 == member.blake3 and renamed.mtime_ns == member.mtime_ns
    with tarfile.open(fileobj=io.BytesIO(out + bytes(1024)), encoding="utf-8",
                      errors="surrogateescape") as tar:
        info = tar.getmembers()[0]
        assert os.fsencode(info.name) == b"./d/" + name
        assert info.pax_headers["SCHILY.xattr.user.k"] == "v"


def test_a_hard_link_gets_a_new_target(archive):
    data, members = archive
    member = members[b"/d/link"]
    out = HeaderRewriter({b"linkpath": b"./elsewhere"}).feed(
        data[member.offset : member.offset + member.length])
    scanner = TarScanner()
    scanner.feed(out + bytes(1024))
    scanner.finish()
    assert scanner.members[0].kind == "hardlink" and scanner.members[0].link == b"/elsewhere"


def _write(path, data, frame_size):
    with open(path, "wb") as f:
        writer = SeekableWriter(f, frame_size=frame_size, threads=2)
        writer.write(data)
        writer.close()


@pytest.mark.parametrize("size", [0, 1, 4096, 100_000])
def test_forward_reading_through_a_pipe_finds_every_frame(tmp_path, size):
    data = random.Random(size).randbytes(size // 2) + b"a" * (size - size // 2)
    path = tmp_path / "a.zst"
    _write(path, data, 4096)
    read_end, write_end = os.pipe()

    def pump():
        with open(write_end, "wb") as out, open(path, "rb") as src:
            while chunk := src.read(777):  # odd sizes: reads end mid-header
                out.write(chunk)

    thread = threading.Thread(target=pump)
    thread.start()
    with open(read_end, "rb", buffering=0) as stream:
        reader = ForwardReader(stream)
        wanted = lambda offset, size: (offset // 4096) % 3 == 0  # noqa: E731
        got = list(reader.frames(wanted))
    thread.join()
    with SeekableReader(str(path)) as seekable:
        assert [(f.c_offset, f.c_size, f.d_offset, f.d_size) for f, _ in got] == \
            [(f.c_offset, f.c_size, f.d_offset, f.d_size) for f in seekable.frames]
    for frame, chunk in got:
        if wanted(frame.d_offset, frame.d_size):
            assert chunk == data[frame.d_offset : frame.d_offset + frame.d_size]
        else:
            assert chunk is None
    assert reader.frames_decompressed == sum(1 for f, c in got if c is not None)
