"""A set's pieces written as ISO images with xorriso and read back through the medium,
without the kernel: the bytes of each piece at any offset, across the cut between volumes,
the BLAKE3 checked front to back, a damaged part and a missing volume said in words."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import blake3
import pytest

from console.core.errors import RestoreError
from console.core.media.isolayout import SetPiece
from console.core.media.isomedium import IsoMedium
from console.core.media.isowriter import IsoSetWriter, StagedPiece

pytestmark = pytest.mark.skipif(shutil.which("xorriso") is None, reason="needs xorriso")

MiB = 1024 * 1024
SET_ID = "4f1c2a3b-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    base = tmp_path_factory.mktemp("isoset")
    staged = base / "set"
    staged.mkdir()
    (staged / "manifest.json").write_text('{"set_id": "%s"}\n' % SET_ID)
    (staged / "catalog.sqlite").write_bytes(b"SQLite format 3\0" + bytes(4080))
    rng = random.Random(3)
    data = {"fs-1.img.zst": rng.randbytes(3 * MiB + 17), "fs-2.tar.zst": rng.randbytes(6 * MiB)}
    pieces = []
    for name, content in data.items():
        (staged / name).write_bytes(content)
        pieces.append(StagedPiece(SetPiece(name, len(content), blake3.blake3(content).hexdigest()),
                                  str(staged / name)))
    paths = IsoSetWriter(str(base / "discs"), str(staged), set_id=SET_ID, host="web1",
                         created="2026-01-02T03:04:05+00:00", pieces=pieces,
                         volume_size=4 * MiB).write()
    return [Path(p) for p in paths], data


def test_the_volumes_fit_their_size_and_are_named_after_the_host_and_set(written):
    paths, _ = written
    assert len(paths) == 4  # 9 MiB in volumes of 4 MiB, each with about 1 MiB of overhead
    assert [p.name for p in paths] == [f"web1-4f1c2a3b-{n}.iso" for n in (1, 2, 3, 4)]
    assert all(p.stat().st_size <= 4 * MiB for p in paths)


def test_any_byte_range_of_a_piece_reads_as_written(written):
    paths, data = written
    medium = IsoMedium(str(paths[0]))
    try:
        rng = random.Random(9)
        for name, content in data.items():
            with medium.open_random(name, lambda e: None) as piece:
                for _ in range(40):
                    start = rng.randrange(len(content))
                    count = rng.randrange(1, 2 * MiB)
                    piece.seek(start)
                    assert piece.read(count) == content[start:start + count]
            with medium.open_piece(name, lambda e: None) as stream:
                assert stream.read() == content
        assert sorted(set(medium.opened)) == [1, 2, 3, 4]
    finally:
        medium.close()


def test_a_damaged_part_fails_its_blake3_in_words(written, tmp_path):
    paths, data = written
    copies = [Path(shutil.copy(p, tmp_path / p.name)) for p in paths]
    medium = IsoMedium(str(copies[0]))
    try:
        part = medium.header.on_volume(2)[0]
        offset, _ = medium.volume(2, lambda e: None).extent(part.file)
        medium.close()
        raw = bytearray(copies[1].read_bytes())
        raw[offset + 1000] ^= 0xFF
        copies[1].write_bytes(raw)
        medium = IsoMedium(str(copies[0]))
        with pytest.raises(RestoreError, match=f"piece {part.piece} read from the volumes "
                                               "of the set does not match its BLAKE3"):
            with medium.open_piece(part.piece, lambda e: None) as stream:
                while stream.read(MiB):
                    pass
    finally:
        medium.close()


def test_a_missing_volume_is_asked_for_and_without_an_answer_said_in_words(written, tmp_path):
    paths, _ = written
    alone = Path(shutil.copy(paths[0], tmp_path / paths[0].name))
    medium = IsoMedium(str(alone))
    try:
        asked = []
        with pytest.raises(RestoreError, match=f"Volume 2 of set {SET_ID} is needed in "
                                               f"{tmp_path}/web1-4f1c2a3b-2.iso"):
            with medium.open_piece("fs-2.tar.zst", asked.append) as stream:
                while stream.read(MiB):
                    pass
        questions = [e for e in asked if hasattr(e, "choices")]
        assert questions[0].text.startswith(f"There is no {tmp_path}/web1-4f1c2a3b-2.iso. "
                                            f"Insert volume 2 of the set {SET_ID}")
    finally:
        medium.close()
