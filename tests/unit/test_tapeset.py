"""The set layout on tape, on .tap images: written volume after volume, read back piece by piece,
the right volume told from a wrong one."""

from __future__ import annotations

import os
import random
import shutil
import struct
from pathlib import Path

import blake3
import pytest

from console.core.errors import RestoreError
from console.core.events import Message
from console.core.media.simh import SimhTape
from console.core.media.tapeset import (
    TapeHeader,
    TapeMedium,
    TapePiece,
    TapeSetWriter,
)
from console.core.questions import RETRY, Question

BLOCK = 4096


def staged(base: Path, sizes: list[int], seed: int = 1) -> list[TapePiece]:
    """A staging directory with a manifest, a catalog and pieces of random bytes."""
    rng = random.Random(seed)
    base.mkdir()
    (base / "manifest.json").write_bytes(b'{"set": %d}' % seed)
    (base / "catalog.sqlite").write_bytes(rng.randbytes(3 * BLOCK + 5))
    pieces = []
    for index, size in enumerate(sizes):
        data = rng.randbytes(size)
        (base / f"fs-{index + 1}.zst").write_bytes(data)
        pieces.append(TapePiece(f"fs-{index + 1}.zst", size, blake3.blake3(data).hexdigest(),
                                str(base / f"fs-{index + 1}.zst")))
    return pieces


def header(set_id: str, pieces: list[TapePiece]) -> TapeHeader:
    return TapeHeader(set_id=set_id, volume=1, block_size=BLOCK, pieces=pieces, first=(0, 0),
                      host="web1", created="2026-12-01T00:00:00+00:00")


class Changer:
    """The operator: on each question, puts the next image in the drive's place."""

    def __init__(self, drive: Path, tapes: list[Path | None]):
        self.drive, self.tapes = drive, list(tapes)
        self.asked: list[str] = []
        self.said: list[str] = []

    def __call__(self, event) -> None:
        if isinstance(event, Message):
            self.said.append(event.text)
        if not isinstance(event, Question):
            return
        self.asked.append(event.text)
        tape = self.tapes.pop(0)
        if tape is None:  # writing: the full image is kept aside, a new one will be made
            os.replace(self.drive, self.drive.with_name(f"vol-{len(self.asked)}.tap"))
        else:
            os.replace(tape, self.drive)
        event.answer(RETRY)


def test_one_volume_holds_header_manifest_catalog_and_pieces_as_tape_files(tmp_path):
    pieces = staged(tmp_path / "stage", [10_000, BLOCK, 1])
    drive = tmp_path / "set.tap"
    assert TapeSetWriter(str(drive), header("s-1", pieces), str(tmp_path / "stage")).write() == 1
    with SimhTape(str(drive)) as tape:
        first = tape.read_record(BLOCK)
        assert len(first) == BLOCK and first.startswith(b'{"format":"restore-console tape set"')
        read = TapeHeader.parse(first)
        assert (read.set_id, read.volume, read.block_size, read.first) == ("s-1", 1, BLOCK, (0, 0))
        assert tape.read_record(BLOCK) == b""
        files = []
        for _ in range(5):
            records = []
            while record := tape.read_record(BLOCK):
                records.append(record)
            files.append(records)
        assert tape.read_record(BLOCK) == b""  # two filemarks: the end of the set
    assert [len(r) for r in files[2]] == [BLOCK, BLOCK, 10_000 - 2 * BLOCK]
    assert b"".join(files[0]) == (tmp_path / "stage/manifest.json").read_bytes()
    assert b"".join(files[1]) == (tmp_path / "stage/catalog.sqlite").read_bytes()
    for records, piece in zip(files[2:], pieces):
        assert b"".join(records) == Path(piece.path).read_bytes()


def read_piece(medium: TapeMedium, name: str, listener) -> bytes:
    with medium.open_piece(name, listener) as stream:
        parts = []
        while part := stream.read(1000):
            parts.append(part)
    return b"".join(parts)


def test_pieces_are_read_forward_skipping_those_not_needed(tmp_path):
    pieces = staged(tmp_path / "stage", [9000, 5000, 7000, 3000])
    drive = tmp_path / "set.tap"
    TapeSetWriter(str(drive), header("s-1", pieces), str(tmp_path / "stage")).write()
    medium = TapeMedium(str(drive))
    try:
        assert Path(medium.directory, "catalog.sqlite").read_bytes() == \
            (tmp_path / "stage/catalog.sqlite").read_bytes()
        for index in (1, 3):
            assert read_piece(medium, pieces[index].name, print) == \
                Path(pieces[index].path).read_bytes()
        assert (medium.rewinds, medium.files_spaced) == (0, 2)
        assert read_piece(medium, pieces[0].name, print) == Path(pieces[0].path).read_bytes()
        assert medium.rewinds == 1  # behind the position: from the beginning
    finally:
        medium.close()


def test_a_set_goes_on_on_the_next_volume_and_is_read_across_it(tmp_path):
    pieces = staged(tmp_path / "stage", [30_000, 20_000, 6000])
    drive = tmp_path / "set.tap"
    writing = Changer(drive, [None, None])
    volumes = TapeSetWriter(str(drive), header("s-1", pieces), str(tmp_path / "stage"),
                            capacity=40_000, listener=writing).write()
    assert volumes == 3
    # the label to write on the tape: HOST-SETID8-N, as ISO volumes are named
    assert writing.asked[0].startswith("Insert volume 2 of the set s-1 (labelled web1-s-1-2) "
                                       "into")
    os.replace(drive, tmp_path / "vol-3.tap")
    with SimhTape(str(tmp_path / "vol-2.tap")) as tape:
        second = TapeHeader.parse(tape.read_record(BLOCK))
    assert second.volume == 2 and second.first[1] % BLOCK == 0 and second.first != (0, 0)
    with open(tmp_path / "vol-1.tap", "rb") as f:  # a full tape ends with the SIMH mark
        f.seek(-8, os.SEEK_END)
        assert f.read() == struct.pack("<II", 0, 0xFFFFFFFF)

    os.replace(tmp_path / "vol-1.tap", drive)
    reading = Changer(drive, [tmp_path / "vol-2.tap", tmp_path / "vol-3.tap"])
    medium = TapeMedium(str(drive), reading)
    try:
        for piece in pieces:
            assert read_piece(medium, piece.name, reading) == Path(piece.path).read_bytes()
        assert reading.asked == [
            f"The set goes on on volume {n}. Insert volume {n} of the set s-1 (labelled "
            f"web1-s-1-{n}) into {drive}, then retry." for n in (2, 3)]
    finally:
        medium.close()


def test_a_tape_of_another_set_or_volume_is_refused_in_words_and_asked_again(tmp_path):
    pieces = staged(tmp_path / "stage", [30_000, 8000])
    drive = tmp_path / "set.tap"
    TapeSetWriter(str(drive), header("s-1", pieces), str(tmp_path / "stage"), capacity=40_000,
                  listener=Changer(drive, [None])).write()
    os.replace(drive, tmp_path / "vol-2.tap")
    other = staged(tmp_path / "other", [100])
    TapeSetWriter(str(tmp_path / "other.tap"), header("s-2", other),
                  str(tmp_path / "other")).write()

    os.replace(tmp_path / "vol-1.tap", drive)
    shutil.copy(drive, tmp_path / "vol-1-again.tap")
    reading = Changer(drive, [tmp_path / "other.tap", tmp_path / "vol-1-again.tap",
                              tmp_path / "vol-2.tap"])
    medium = TapeMedium(str(drive), reading)
    try:
        data = read_piece(medium, pieces[0].name, reading)
        assert data == Path(pieces[0].path).read_bytes()
    finally:
        medium.close()
    assert len(reading.asked) == 3
    assert reading.asked[1].startswith(
        f"The tape in {drive} is volume 1 of set s-2 (host web1, made 2026-12-01T00:00:00+00:00), "
        "another set. Insert volume 2 of the set s-1")
    assert reading.asked[2].startswith(
        f"The tape in {drive} is volume 1 of set s-1 (host web1, made "
        "2026-12-01T00:00:00+00:00), not volume 2. Insert volume 2 of the set s-1")


def test_without_an_answer_the_next_volume_is_an_error_in_words(tmp_path):
    pieces = staged(tmp_path / "stage", [30_000, 8000])
    drive = tmp_path / "set.tap"
    TapeSetWriter(str(drive), header("s-1", pieces), str(tmp_path / "stage"), capacity=40_000,
                  listener=Changer(drive, [None])).write()
    os.replace(tmp_path / "vol-1.tap", drive)
    medium = TapeMedium(str(drive))
    try:
        with pytest.raises(RestoreError, match="Volume 2 of set s-1 is needed in"):
            read_piece(medium, pieces[0].name, lambda event: None)
    finally:
        medium.close()


def test_a_truncated_tape_is_an_error_that_says_how_far_it_read(tmp_path):
    pieces = staged(tmp_path / "stage", [50_000])
    drive = tmp_path / "set.tap"
    TapeSetWriter(str(drive), header("s-1", pieces), str(tmp_path / "stage")).write()
    with open(drive, "r+b") as f:
        f.truncate(os.path.getsize(drive) - 30_000)
    medium = TapeMedium(str(drive))
    try:
        with pytest.raises(RestoreError, match=r"Reading fs-1.zst from .* failed after "):
            read_piece(medium, pieces[0].name, lambda event: None)
    finally:
        medium.close()


def test_a_piece_that_does_not_match_its_blake3_is_refused(tmp_path):
    pieces = staged(tmp_path / "stage", [10_000])
    wrong = [TapePiece(pieces[0].name, pieces[0].size, "00" * 32, pieces[0].path)]
    drive = tmp_path / "set.tap"
    TapeSetWriter(str(drive), header("s-1", wrong), str(tmp_path / "stage")).write()
    medium = TapeMedium(str(drive))
    try:
        with pytest.raises(RestoreError, match="does not match its BLAKE3"):
            read_piece(medium, pieces[0].name, lambda event: None)
    finally:
        medium.close()


def test_a_tape_without_a_set_is_said_so(tmp_path):
    drive = tmp_path / "blank.tap"
    with SimhTape(str(drive), write=True) as tape:
        tape.write_record(b"not a set")
    with pytest.raises(RestoreError, match="holds no restore-console set"):
        TapeMedium(str(drive))
