"""The SIMH .tap image, byte for byte, behind the Tape interface; the drive's ioctl numbers
against the C library's headers."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from console.core.media import drive
from console.core.media.simh import SimhTape
from console.core.media.tape import (
    EndOfData,
    EndOfMedium,
    RecordTooLong,
    TapeError,
    TapeFull,
    TapePosition,
)

MTIO_HEADERS = [Path("/usr/include/x86_64-linux-gnu/sys/mtio.h"), Path("/usr/include/sys/mtio.h"),
                Path("/usr/include/linux/mtio.h")]


def word(n: int) -> bytes:
    return struct.pack("<I", n)


def written(path: Path, *steps) -> Path:
    with SimhTape(str(path), write=True) as tape:
        for step in steps:
            if step is None:
                tape.write_filemark()
            else:
                tape.write_record(step)
    return path


def test_records_are_framed_by_their_length_and_padded_to_an_even_length(tmp_path):
    path = written(tmp_path / "t.tap", b"abc", b"defg", None)
    assert path.read_bytes() == (word(3) + b"abc\0" + word(3) + word(4) + b"defg" + word(4)
                                 + word(0))


def test_records_and_filemarks_read_back_in_order(tmp_path):
    path = written(tmp_path / "t.tap", b"one", b"two", None, b"three", None, None)
    with SimhTape(str(path)) as tape:
        assert [tape.read_record(100) for _ in range(6)] == [b"one", b"two", b"", b"three",
                                                              b"", b""]
        with pytest.raises(EndOfData):
            tape.read_record(100)


def test_spacing_forward_passes_whole_files(tmp_path):
    path = written(tmp_path / "t.tap", b"a1", b"a2", None, b"b1", None, b"c1", b"c2", None)
    with SimhTape(str(path)) as tape:
        tape.read_record(10)  # inside file 0: spacing passes the rest of it
        tape.space_forward(2)
        assert tape.position() == TapePosition(file=2, block=0)
        assert tape.read_record(10) == b"c1"
        tape.rewind()
        assert tape.position() == TapePosition(file=0, block=0, at_start=True)
        tape.space_forward(1)
        assert tape.read_record(10) == b"b1"
        with pytest.raises(EndOfData):
            tape.space_forward(3)


def test_spacing_backward_stops_before_the_last_filemark_passed(tmp_path):
    path = written(tmp_path / "t.tap", b"a1", None, b"b1", b"b2", None, b"c1", None)
    with SimhTape(str(path)) as tape:
        tape.space_forward(2)
        tape.read_record(10)
        tape.space_backward(1)  # back over c1 and the filemark after b2: before that mark
        assert tape.position() == TapePosition(file=1, block=2)
        assert tape.read_record(10) == b""
        assert tape.read_record(10) == b"c1"
        tape.space_backward(2)
        tape.space_forward(1)  # the usual pair: to the start of the file before
        assert tape.read_record(10) == b"b1"
        tape.rewind()
        with pytest.raises(TapeError, match="beginning of the tape"):
            tape.space_backward(1)


def test_a_record_longer_than_the_buffer_fails_and_is_passed_over(tmp_path):
    path = written(tmp_path / "t.tap", b"x" * 1000, b"next")
    with SimhTape(str(path)) as tape:
        with pytest.raises(RecordTooLong, match="holds 1000 bytes, more than the 999"):
            tape.read_record(999)
        assert tape.read_record(999) == b"next"


def test_the_end_of_medium_mark_is_told_from_the_end_of_data(tmp_path):
    path = tmp_path / "t.tap"
    with SimhTape(str(path), write=True) as tape:
        tape.write_record(b"last")
        tape.write_filemark()
        tape.mark_end_of_medium()
    assert path.read_bytes().endswith(word(0) + word(0xFFFFFFFF))
    with SimhTape(str(path)) as tape:
        assert tape.read_record(10) == b"last"
        assert tape.read_record(10) == b""
        with pytest.raises(EndOfMedium):
            tape.read_record(10)
        tape.rewind()
        with pytest.raises(EndOfMedium):
            tape.space_forward(2)


def test_a_full_image_refuses_the_record_and_still_takes_the_filemarks(tmp_path):
    path = tmp_path / "t.tap"
    with SimhTape(str(path), write=True, capacity=100) as tape:
        tape.write_record(b"a" * 40)  # 48 bytes
        with pytest.raises(TapeFull):
            tape.write_record(b"b" * 40)  # 96 + the room kept for the marks: too much
        tape.write_filemark()
        tape.mark_end_of_medium()
    assert path.stat().st_size == 48 + 4 + 4


def test_writing_ends_the_recorded_data_there(tmp_path):
    path = written(tmp_path / "t.tap", b"a", None, b"b", None, b"c", None)
    with SimhTape(str(path), write=True) as tape:
        tape.space_forward(1)
        tape.write_record(b"new")
    with SimhTape(str(path)) as tape:
        tape.end_of_data()
        assert tape.position() == TapePosition(file=1, block=1)
        tape.rewind()
        assert [tape.read_record(9) for _ in range(3)] == [b"a", b"", b"new"]
        with pytest.raises(EndOfData):
            tape.read_record(9)


def test_a_record_whose_two_lengths_differ_is_damage(tmp_path):
    path = tmp_path / "t.tap"
    path.write_bytes(word(4) + b"abcd" + word(5))
    with SimhTape(str(path)) as tape, pytest.raises(TapeError, match="damaged at byte 0"):
        tape.read_record(10)


def test_an_erase_gap_is_passed_over(tmp_path):
    path = tmp_path / "t.tap"
    path.write_bytes(word(0xFFFFFFFE) + word(2) + b"ok" + word(2))
    with SimhTape(str(path)) as tape:
        assert tape.read_record(10) == b"ok"


def _mtio_header() -> Path:
    for path in MTIO_HEADERS:
        if path.exists() and "MTIOCTOP" in path.read_text():
            return path
    pytest.skip("no mtio.h with MTIOCTOP here (install libc6-dev)")


def test_the_operation_numbers_are_those_of_the_header():
    text = _mtio_header().read_text()
    for name in ("MTFSF", "MTBSF", "MTWEOF", "MTREW", "MTOFFL", "MTEOM", "MTSETBLK"):
        found = re.search(rf"#define\s+{name}\s+(\d+)", text)
        assert found, name
        assert getattr(drive, name) == int(found[1]), name
    for name in ("GMT_EOF", "GMT_BOT", "GMT_EOT", "GMT_EOD"):
        found = re.search(rf"#define\s+{name}\(x\)\s+\(\(x\) & (0x[0-9a-fA-F]+)\)", text)
        assert found, name
        assert getattr(drive, name) == int(found[1], 16), name


def test_the_ioctl_numbers_are_those_the_c_compiler_computes(tmp_path):
    """_IOW('m', 1, struct mtop) and _IOR('m', 2, struct mtget), by the real headers."""
    _mtio_header()
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler (install gcc)")
    source = tmp_path / "mtio.c"
    source.write_text('#include <stdio.h>\n#include <sys/ioctl.h>\n#include <sys/mtio.h>\n'
                      'int main(void) { printf("%lu %lu %zu %zu\\n", (unsigned long) MTIOCTOP,'
                      ' (unsigned long) MTIOCGET, sizeof(struct mtop), sizeof(struct mtget));'
                      ' return 0; }\n')
    subprocess.run([gcc, "-o", str(tmp_path / "mtio"), str(source)], check=True)
    out = subprocess.run([str(tmp_path / "mtio")], capture_output=True, text=True,
                         check=True).stdout.split()
    assert [int(v) for v in out] == [drive.MTIOCTOP, drive.MTIOCGET, drive.MTOP.size,
                                     drive.MTGET.size]
