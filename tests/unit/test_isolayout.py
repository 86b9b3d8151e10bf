"""The cutting of a set's pieces into ISO volumes, and the volume header file."""

from __future__ import annotations

import json

import pytest

from console.cli import parse_volume_size
from console.core.errors import UsageError
from console.core.media.isolayout import (
    MAX_PART,
    SECTOR,
    Part,
    SetPiece,
    VolumeHeader,
    cut_into_volumes,
    sectors,
    set_label,
    volume_id,
)

MiB = 1024 * 1024


def piece(name: str, size: int) -> SetPiece:
    return SetPiece(name, size, "ab" * 32)


def test_pieces_that_fit_keep_their_names_on_one_volume():
    parts = cut_into_volumes([piece("fs-1.tar.zst", 3 * MiB), piece("fs-2.tar.zst", 5)],
                             10 * MiB)
    assert parts == [Part(1, "fs-1.tar.zst", "fs-1.tar.zst", 0, 3 * MiB),
                     Part(1, "fs-2.tar.zst", "fs-2.tar.zst", 0, 5)]


def test_a_piece_that_does_not_fit_goes_on_on_the_next_volume_from_the_byte_it_stopped():
    room = 4 * MiB
    parts = cut_into_volumes([piece("fs-1.tar.zst", MiB + 100), piece("fs-2.tar.zst", 9 * MiB)],
                             room)
    assert [(p.volume, p.file, p.offset, p.size) for p in parts] == [
        (1, "fs-1.tar.zst", 0, MiB + 100),
        # fs-1 takes whole sectors: what is left of volume 1 is a multiple of the sector
        (1, "fs-2.tar.zst.part1", 0, room - sectors(MiB + 100)),
        (2, "fs-2.tar.zst.part2", room - sectors(MiB + 100), room),
        (3, "fs-2.tar.zst.part3", 2 * room - sectors(MiB + 100),
         9 * MiB - (2 * room - sectors(MiB + 100))),
    ]
    for volume in (1, 2, 3):
        assert sum(sectors(p.size) for p in parts if p.volume == volume) <= room


def test_the_parts_of_a_piece_join_into_the_whole_piece():
    sizes = [7 * MiB + 13, 1, 2 * MiB - 1, 11 * MiB]
    parts = cut_into_volumes([piece(f"p{i}", s) for i, s in enumerate(sizes)],
                             [3 * MiB + 5 * SECTOR, 2 * MiB])
    for i, size in enumerate(sizes):
        mine = [p for p in parts if p.piece == f"p{i}"]
        assert mine[0].offset == 0
        for before, after in zip(mine, mine[1:]):
            assert after.offset == before.offset + before.size
            assert after.volume >= before.volume
        assert mine[-1].offset + mine[-1].size == size
    # volume 1 has its own room (the rescue system takes the rest), the others the last one
    assert sum(sectors(p.size) for p in parts if p.volume == 1) <= 3 * MiB + 5 * SECTOR
    assert all(sum(sectors(p.size) for p in parts if p.volume == v) <= 2 * MiB
               for v in range(2, parts[-1].volume + 1))


def test_no_part_reaches_the_4_gib_limit_of_an_iso_9660_file_section():
    big = 10 * 1024**3
    parts = cut_into_volumes([piece("fs-1.tar.zst", big)], 20 * 1024**3,
                             max_part=MAX_PART)
    assert all(p.size < 4 * 1024**3 for p in parts)
    assert {p.volume for p in parts} == {1}
    assert sum(p.size for p in parts) == big
    assert [p.file for p in parts] == [f"fs-1.tar.zst.part{k}" for k in (1, 2, 3)]


def test_a_volume_too_small_for_the_set_files_is_refused():
    with pytest.raises(UsageError, match="no room"):
        cut_into_volumes([piece("a", 5)], 100)


def test_volume_sizes_in_words_and_numbers():
    assert parse_volume_size("cd") == 700 * MiB
    assert parse_volume_size("DVD") == 4_700_372_992
    assert parse_volume_size("100M") == 100 * MiB
    with pytest.raises(UsageError, match="--volume-size floppy"):
        parse_volume_size("floppy")
    with pytest.raises(UsageError):
        parse_volume_size("10K")


def test_the_volume_header_says_the_set_the_number_and_where_each_part_goes_on():
    pieces = [SetPiece("fs-2.tar.zst", 9 * MiB, "cd" * 32, b"\x5e\x2a\x4d\x18table")]
    parts = cut_into_volumes(pieces, 4 * MiB)
    header = VolumeHeader(set_id="4f1c2a3b-0000-4000-8000-000000000001", volume=2, volumes=3,
                          pieces=pieces, parts=parts, host="web1",
                          created="2026-01-02T03:04:05+00:00", label="web1-4f1c2a3b")
    raw = header.to_bytes()
    data = json.loads(raw)
    assert data["format"] == "restore-console iso volume"
    assert (data["set_id"], data["volume"], data["volumes"]) == (header.set_id, 2, 3)
    assert [p["file"] for p in data["parts"]] == [f"fs-2.tar.zst.part{k}" for k in (1, 2, 3)]
    again = VolumeHeader.parse(raw)
    assert again.parts == parts and again.pieces == pieces
    assert [p.file for p in again.on_volume(2)] == ["fs-2.tar.zst.part2"]
    assert again.words() == ("volume 2 of 3 of set 4f1c2a3b-0000-4000-8000-000000000001 "
                             "(host web1, made 2026-01-02T03:04:05+00:00)")
    assert VolumeHeader.parse(b'{"format": "something else"}') is None
    assert VolumeHeader.parse(b"\x00garbage") is None


def test_volume_ids_fit_iso_9660_and_labels_name_the_host():
    set_id = "4f1c2a3b-0000-4000-8000-000000000001"
    assert volume_id(set_id, 12) == "RC_4F1C2A3B_12"
    assert len(volume_id(set_id, 999)) <= 32
    assert set_label("web 1/prod", set_id) == "web_1_prod-4f1c2a3b"
    assert set_label("", set_id) == "set-4f1c2a3b"
