"""Seekable zstd: round trips, frame lookup, compatibility with the zstd tool, damage detection."""

import os
import random
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.core.backupset.seekable import SeekableReader, SeekableWriter
from console.core.errors import RestoreError


def write(path, data, frame_size=1000, chunk=777):
    with open(path, "wb") as f:
        writer = SeekableWriter(f, frame_size=frame_size, threads=2)
        for i in range(0, len(data), chunk):
            writer.write(data[i : i + chunk])
        return writer.close()


def read_all(path):
    with SeekableReader(str(path)) as reader:
        return b"".join(data for _, data in reader.iter_frames())


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=20000), frame_size=st.integers(1, 5000), chunk=st.integers(1, 9000))
def test_round_trip_any_sizes(tmp_path_factory, data, frame_size, chunk):
    path = tmp_path_factory.mktemp("s") / "a.zst"
    result = write(path, data, frame_size, chunk)
    assert result.uncompressed_bytes == len(data)
    assert result.compressed_bytes == os.path.getsize(path)
    assert read_all(path) == data


def test_frames_are_independent_and_found_by_offset(tmp_path):
    data = random.Random(3).randbytes(10_500)
    path = tmp_path / "a.zst"
    write(path, data, frame_size=1000)
    with SeekableReader(str(path)) as reader:
        assert len(reader.frames) == 11
        index = reader.frame_at(7_345)
        assert index == 7
        frame, chunk = next(reader.iter_frames(index, index + 1))
        assert chunk == data[7000:8000] and frame.d_offset == 7000


@pytest.mark.skipif(shutil.which("zstd") is None, reason="needs the zstd tool")
def test_the_zstd_tool_reads_it_as_one_stream(tmp_path):
    data = b"restore " * 50_000
    path = tmp_path / "a.zst"
    write(path, data, frame_size=64 * 1024)
    out = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
    assert out == data


def test_truncated_file_is_reported_in_words(tmp_path):
    path = tmp_path / "fs-1.tar.zst"
    write(path, random.Random(1).randbytes(5000))
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 30)
    with pytest.raises(RestoreError, match="fs-1.tar.zst is truncated or damaged"):
        SeekableReader(str(path))


def test_corrupted_frame_is_reported(tmp_path):
    path = tmp_path / "a.zst"
    write(path, b"x" * 3000 + random.Random(2).randbytes(3000))
    with open(path, "r+b") as f:
        f.seek(40)
        byte = f.read(1)
        f.seek(40)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(RestoreError, match="damaged"):
        read_all(path)


def test_writer_hash_is_blake3_of_the_file(tmp_path):
    from console.core.backupset.manifest import hash_file
    path = tmp_path / "a.zst"
    result = write(path, b"abc" * 1000)
    assert result.blake3 == hash_file(str(path))
