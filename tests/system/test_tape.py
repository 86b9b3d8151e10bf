"""Sets on tape, on SIMH .tap images standing for the drive: a backup of a real disk image onto
a .tap, inspect and ls from it, a whole restore from it checked with sfdisk and rsync, a partial
restore that only moves forward, a set over two tapes with a tape of another set offered first,
and the OBDR layout byte for byte."""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from console.core.applying.partial import restore_selection, selection_for_paths
from console.core.applying.restore import apply_plan
from console.core.backupset.catalog import Catalog
from console.core.backupset.manifest import load_set
from console.core.backupset.tapeset import write_to_tape
from console.core.events import Message
from console.core.media.simh import SimhTape
from console.core.media.tapeset import TapeHeader, forget_tape_sets
from console.core.planning.choices import make_plan
from console.core.questions import RETRY, Question
from tests.system.clitool import cli, cli_backup
from tests.system.hardtree import rsync_differences
from tests.system.images import (
    attached,
    make_source_disk,
    mounted,
    populate_source_disk,
    sfdisk_json,
)

pytestmark = pytest.mark.system

MiB = 1024 * 1024
RO = {2: ("ext4", "ro,noload"), 3: ("xfs", "ro,norecovery,nouuid")}
BULK_FILES = 6  # 3 MiB each: the root archive has several frames, most of them not needed
BLOCK = 64 * 1024


@pytest.fixture(scope="module")
def taped(tmp_path_factory):
    """The source image, backed up with the command line onto a .tap and into a directory."""
    base = tmp_path_factory.mktemp("tape")
    source = base / "source.img"
    make_source_disk(source, 512)
    populate_source_disk(source)
    rng = random.Random(5)
    with attached(source) as disk, mounted(disk.partition(2), "ext4") as root:
        (root / "bulk").mkdir()
        for i in range(BULK_FILES):
            (root / f"bulk/part-{i}").write_bytes(rng.randbytes(3 * MiB))
    tap = base / "set.tap"
    proc = cli("backup", "--disk", str(source), "--tape", str(tap), "--block-size", "64K")
    assert proc.returncode == 0, proc.stderr
    assert f"onto {tap} (1 volume)" in proc.stdout
    set_dir = cli_backup(source, base / "set")
    return source, tap, set_dir


def disk_name(set_path) -> str:
    return json.loads(cli("inspect", str(set_path), "--json").stdout)["disks"][0]["name"]


def header_of(tap: Path) -> TapeHeader:
    with SimhTape(str(tap)) as tape:
        return TapeHeader.parse(tape.read_record(16 * MiB))


def blank_like(source: Path, path: Path) -> Path:
    with open(path, "wb") as f:
        f.truncate(source.stat().st_size)
    return path


def assert_same_disk(source: Path, target: Path) -> None:
    def table(image):
        found = sfdisk_json(image)["partitiontable"]
        for part in found["partitions"]:
            part.pop("node")
        found.pop("device")
        found.pop("firstlba", None)
        return found

    assert table(target) == table(source)
    for number, (fstype, options) in RO.items():
        with attached(source, read_only=True) as src, attached(target, read_only=True) as dst, \
                mounted(src.partition(number), fstype, options) as a, \
                mounted(dst.partition(number), fstype, options) as b:
            assert rsync_differences(Path(a), Path(b)) == []
            assert sum(len(files) for _, _, files in os.walk(b)) >= 2


def test_inspect_reads_the_set_from_the_tap(taped):
    _, tap, _ = taped
    proc = cli("inspect", str(tap), "--json")
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["set_id"] == header_of(tap).set_id
    assert [fs["type"] for fs in shown["filesystems"]] == ["vfat", "ext4", "xfs", "swap"]
    words = cli("inspect", str(tap)).stdout
    assert f"Set {shown['set_id']} of host" in words


def test_ls_lists_a_directory_of_the_set_on_the_tap(taped):
    _, tap, _ = taped
    proc = cli("ls", str(tap), "/etc")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith("fstab")
    proc = cli("ls", str(tap), "/", "--search", "part-*", "--json")
    assert sorted(e["name"] for e in json.loads(proc.stdout)) == \
        [f"part-{i}" for i in range(BULK_FILES)]


def test_a_whole_restore_from_the_tap_gives_the_same_disk(taped, tmp_path):
    source, tap, _ = taped
    target = blank_like(source, tmp_path / "target.img")
    proc = cli("restore", str(tap), "--map", f"{disk_name(tap)}={target}", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "every file matched its BLAKE3" in proc.stdout
    assert_same_disk(source, target)


def test_a_whole_restore_reads_the_tape_forward_only(taped, tmp_path):
    source, tap, _ = taped
    forget_tape_sets()
    target = blank_like(source, tmp_path / "target.img")
    plan = make_plan(str(tap), {disk_name(tap): str(target)})
    apply_plan(plan)
    medium = load_set(str(tap)).medium
    assert medium.rewinds == 0
    forget_tape_sets()


def test_a_partial_restore_moves_forward_only_skipping_what_it_does_not_need(taped, tmp_path):
    source, tap, _ = taped
    forget_tape_sets()
    backup_set = load_set(str(tap))
    with Catalog(backup_set.catalog_path) as catalog:
        selections = selection_for_paths(backup_set, catalog, ["/srv/data", "/etc/fstab"])
    result = restore_selection(backup_set, selections, str(tmp_path / "out"))
    medium = backup_set.medium
    assert medium.rewinds == 0
    assert medium.files_spaced >= 1  # the EFI image before the root archive was passed over
    assert result.frames_read < 4  # of the root archive's 5 or more frames: fstab's only
    with attached(source, read_only=True) as src, \
            mounted(src.partition(2), *RO[2]) as root, mounted(src.partition(3), *RO[3]) as data:
        assert (tmp_path / "out/etc/fstab").read_bytes() == Path(root, "etc/fstab").read_bytes()
        assert rsync_differences(Path(data), tmp_path / "out/srv/data") == []
    forget_tape_sets()


def test_a_partial_restore_from_the_tap_with_the_command_line(taped, tmp_path):
    source, tap, _ = taped
    out = tmp_path / "out"
    proc = cli("restore", str(tap), "--only", "/etc", "--into", str(out))
    assert proc.returncode == 0, proc.stderr
    with attached(source, read_only=True) as src, mounted(src.partition(2), *RO[2]) as root:
        assert rsync_differences(Path(root, "etc"), out / "etc") == []


class Operator:
    """Changes the tape in the drive's place when asked: each answer puts the next image there
    (None: moves the full one aside, as when writing)."""

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
        if tape is None:
            os.replace(self.drive, self.drive.with_name(f"volume-{len(self.asked)}.tap"))
        else:
            shutil.copy(tape, self.drive)
        event.answer(RETRY)


def test_a_set_over_two_tapes_asks_for_the_second_and_refuses_another_sets(taped, tmp_path):
    source, tap, set_dir = taped
    drive = tmp_path / "drive.tap"
    backup_set = load_set(str(set_dir))
    stored = sum(p.size for fs in backup_set.filesystems if fs.archive
                 for p in fs.archive.pieces)
    writing = Operator(drive, [None])
    volumes = write_to_tape(backup_set, str(drive), block_size=BLOCK,
                            capacity=stored // 2 + MiB, listener=writing)
    assert volumes == 2
    assert writing.asked[0].startswith(f"Insert volume 2 of the set {backup_set.set_id}")
    first = drive.with_name("volume-1.tap")  # the full tape the operator took out
    second = tmp_path / "second.tap"
    os.replace(drive, second)
    assert (header_of(first).volume, header_of(second).volume) == (1, 2)
    assert header_of(second).first[0] > 0 or header_of(second).first[1] > 0

    forget_tape_sets()
    shutil.copy(first, drive)
    reading = Operator(drive, [tap, second])  # another set's tape first, then the right one
    target = blank_like(source, tmp_path / "target.img")
    plan = make_plan(str(drive), {disk_name(set_dir): str(target)})
    apply_plan(plan, reading)
    forget_tape_sets()
    other = header_of(tap)
    assert len(reading.asked) == 2
    assert reading.asked[1].startswith(f"The tape in {drive} is volume 1 of set {other.set_id}")
    assert "another set. Insert volume 2 of the set " + backup_set.set_id in reading.asked[1]
    assert_same_disk(source, target)


def test_the_obdr_layout_comes_first_byte_for_byte(taped, tmp_path):
    source, _, _ = taped
    if shutil.which("xorriso") is None:
        pytest.skip("xorriso is not installed")
    tree = tmp_path / "iso"
    tree.mkdir()
    (tree / "README").write_text("a rescue system would be here\n")
    iso = tmp_path / "rescue.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", "RESCUE", "-o", str(iso),
                    str(tree)], check=True, capture_output=True)
    tap = tmp_path / "obdr.tap"
    proc = cli("backup", "--disk", str(source), "--tape", str(tap), "--obdr", str(iso))
    assert proc.returncode == 0, proc.stderr
    raw = tap.read_bytes()
    zone = (struct.pack("<I", 512) + bytes(512) + struct.pack("<I", 512)) * 20
    assert raw[: len(zone)] == zone
    image = iso.read_bytes()
    assert len(image) % 2048 == 0
    at = len(zone)
    for offset in range(0, len(image), 2048):
        record = struct.pack("<I", 2048) + image[offset : offset + 2048] + struct.pack("<I", 2048)
        assert raw[at : at + len(record)] == record, offset
        at += len(record)
    assert raw[at : at + 4] == bytes(4)  # the filemark, then the set's header
    start = b'{"format":"restore-console tape set"'
    assert raw[at + 4 : at + 8] == struct.pack("<I", 256 * 1024)  # one record of a block
    assert raw[at + 8 : at + 8 + len(start)] == start
    proc = cli("inspect", str(tap), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["set_id"] == header_of_after_obdr(tap).set_id


def header_of_after_obdr(tap: Path) -> TapeHeader:
    with SimhTape(str(tap)) as tape:
        tape.space_forward(1)
        return TapeHeader.parse(tape.read_record(16 * MiB))


def test_an_obdr_image_that_is_not_an_iso_is_refused(taped, tmp_path):
    source, _, _ = taped
    not_iso = tmp_path / "rescue.iso"
    not_iso.write_bytes(bytes(64 * 1024))
    proc = cli("backup", "--disk", str(source), "--tape", str(tmp_path / "x.tap"),
               "--obdr", str(not_iso))
    assert proc.returncode == 2
    assert "is not an ISO 9660 image" in proc.stderr
    assert not (tmp_path / "x.tap").exists()


def test_each_piece_is_a_tape_file_that_zstd_and_tar_read_as_by_hand(taped):
    """What `mt fsf 3+N; dd | zstd -dc | tar` does on a drive: the records of tape file 3+N,
    joined, are the piece the header names, whole."""
    source, tap, _ = taped
    header = header_of(tap)
    root = next(i for i, p in enumerate(header.pieces) if p.name == "fs-2.tar.zst")
    with SimhTape(str(tap)) as tape:
        tape.space_forward(3 + root)
        stream = b""
        while record := tape.read_record(header.block_size):
            stream += record
    assert len(stream) == header.pieces[root].size
    listing = subprocess.run("zstd -dc | tar -tf -", shell=True, input=stream,
                             capture_output=True, check=True).stdout.decode().split("\n")
    assert "./etc/fstab" in listing
    assert sum(name.startswith("./bulk/part-") for name in listing) == BULK_FILES
