"""Sets on ISO 9660 volumes: a backup of a real disk image as a series of small ISO images,
each checked with xorriso for its volume id and files; inspect, ls and a whole restore from
volume 1 (the others beside it) checked with sfdisk and rsync; a missing volume asked for, a
volume of another set refused in words; a partial restore that opens only the volume it needs;
the parts of a cut piece joined by hand with cat, zstd and tar; volume 1 made bootable."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from console.core.applying.partial import restore_selection, selection_for_paths
from console.core.applying.restore import apply_plan
from console.core.backupset.browse import resolve
from console.core.backupset.catalog import Catalog
from console.core.backupset.manifest import load_set
from console.core.backupset.seekable import SeekableReader
from console.core.events import Message
from console.core.media.isolayout import HEADER_FILE, VolumeHeader
from console.core.media.isomedium import forget_iso_sets
from console.core.planning.choices import make_plan
from console.core.questions import RETRY, Question
from tests.system.clitool import cli
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
BULK_FILES = 8  # 3 MiB each, incompressible: the root archive spans volumes
VOLUME_SIZE = "12M"


def iso_files(iso: Path) -> dict[str, int]:
    """The files in the root of an ISO image and their sizes, as xorriso lists them."""
    out = subprocess.run(["xorriso", "-indev", str(iso), "-find", "/", "-maxdepth", "1",
                          "-type", "f", "-exec", "lsdl"], capture_output=True, text=True,
                         check=True).stdout
    files = {}
    for line in out.splitlines():
        match = re.match(r"^-\S+\s+\d+\s+\S+\s+\S+\s+(\d+)\s+.*'/(.+)'$", line)
        if match:
            files[match.group(2)] = int(match.group(1))
    return files


def iso_pvd(iso: Path) -> dict[str, str]:
    out = subprocess.run(["xorriso", "-indev", str(iso), "-pvd_info"], capture_output=True,
                         text=True, check=True).stdout
    return {k.strip(): v.strip().strip("'") for k, v in
            (line.split(":", 1) for line in out.splitlines() if ":" in line)}


def extract(iso: Path, name: str, to: Path) -> bytes:
    """A file of the image, as osirrox extracts it."""
    subprocess.run(["osirrox", "-indev", str(iso), "-extract", "/" + name, str(to)],
                   check=True, capture_output=True)
    data = to.read_bytes()
    to.unlink()
    return data


def header_of(iso: Path) -> VolumeHeader:
    return VolumeHeader.parse(extract(iso, HEADER_FILE, iso.with_name(f".{iso.name}.header")))


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    """The source image, backed up with the command line as ISO volumes."""
    base = tmp_path_factory.mktemp("iso")
    source = base / "source.img"
    make_source_disk(source, 512)
    populate_source_disk(source)
    rng = random.Random(7)
    with attached(source) as disk, mounted(disk.partition(2), "ext4") as root:
        (root / "bulk").mkdir()
        for i in range(BULK_FILES):
            (root / f"bulk/part-{i}").write_bytes(rng.randbytes(3 * MiB))
    out = base / "discs"
    proc = cli("backup", "--disk", str(source), "--iso", str(out), "--volume-size", VOLUME_SIZE)
    assert proc.returncode == 0, proc.stderr
    isos = sorted(out.glob("*.iso"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    assert f"into {out} ({len(isos)} ISO volumes)" in proc.stdout
    return source, isos


def disk_name(set_path) -> str:
    return json.loads(cli("inspect", str(set_path), "--json").stdout)["disks"][0]["name"]


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


def test_each_volume_is_an_iso_with_the_set_id_its_number_and_its_parts(volumes):
    _, isos = volumes
    assert len(isos) == 3
    first = header_of(isos[0])
    label = isos[0].name.rsplit("-", 1)[0]
    for number, iso in enumerate(isos, 1):
        assert iso.name == f"{label}-{number}.iso"
        assert iso.stat().st_size <= 12 * MiB
        pvd = iso_pvd(iso)
        assert pvd["Volume Id"] == f"RC_{first.set_id[:8].upper()}_{number}"
        assert pvd["Volume Set Id"] == first.set_id
        header = header_of(iso)
        assert (header.set_id, header.volume, header.volumes) == (first.set_id, number,
                                                                  len(isos))
        files = iso_files(iso)
        assert {"manifest.json", "catalog.sqlite", HEADER_FILE} <= set(files)
        assert {p.file: p.size for p in header.on_volume(number)} == \
            {name: size for name, size in files.items()
             if name not in ("manifest.json", "catalog.sqlite", HEADER_FILE)}
    cut = [p for p in first.parts if p.file != p.piece]
    assert cut and len({p.volume for p in first.parts_of(cut[0].piece)}) >= 2


def test_inspect_and_ls_read_the_set_from_volume_1(volumes):
    _, isos = volumes
    proc = cli("inspect", str(isos[0]), "--json")
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["set_id"] == header_of(isos[0]).set_id
    assert [fs["type"] for fs in shown["filesystems"]] == ["vfat", "ext4", "xfs", "swap"]
    proc = cli("ls", str(isos[0]), "/etc")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith("fstab")
    proc = cli("ls", str(isos[0]), "/", "--search", "part-*", "--json")
    assert sorted(e["name"] for e in json.loads(proc.stdout)) == \
        [f"part-{i}" for i in range(BULK_FILES)]


def test_a_whole_restore_from_volume_1_with_the_others_beside_it(volumes, tmp_path):
    source, isos = volumes
    target = blank_like(source, tmp_path / "target.img")
    proc = cli("restore", str(isos[0]), "--map", f"{disk_name(isos[0])}={target}", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "every file matched its BLAKE3" in proc.stdout
    assert_same_disk(source, target)


class Operator:
    """Puts an image where the console looks for the volume it asks for: each answer the next
    of `offers`."""

    def __init__(self, offers: list[Path]):
        self.offers = list(offers)
        self.asked: list[Question] = []
        self.said: list[str] = []

    def __call__(self, event) -> None:
        if isinstance(event, Message):
            self.said.append(event.text)
        if not isinstance(event, Question):
            return
        self.asked.append(event)
        place = re.search(r" into (\S+), then retry", event.text).group(1)
        shutil.copy(self.offers.pop(0), place)
        event.answer(RETRY)


@pytest.fixture(scope="module")
def other_set(volumes, tmp_path_factory):
    """The same disk backed up again: another set, its volumes numbered the same."""
    source, _ = volumes
    out = tmp_path_factory.mktemp("other") / "discs"
    proc = cli("backup", "--disk", str(source), "--iso", str(out), "--volume-size", VOLUME_SIZE)
    assert proc.returncode == 0, proc.stderr
    return sorted(out.glob("*.iso"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))


def test_a_missing_volume_is_asked_for_and_another_sets_refused_in_words(volumes, other_set,
                                                                         tmp_path):
    source, isos = volumes
    drive = tmp_path / "drive"
    drive.mkdir()
    shutil.copy(isos[0], drive / isos[0].name)  # volume 1 alone: the others are asked for
    forget_iso_sets()
    # another set's volume 2, then volume 3 of this set, then the right one
    reading = Operator([other_set[1], isos[2], *isos[1:]])
    target = blank_like(source, tmp_path / "target.img")
    first = drive / isos[0].name
    plan = make_plan(str(first), {disk_name(isos[0]): str(target)})
    apply_plan(plan, reading)
    forget_iso_sets()
    ours, theirs = header_of(isos[0]).set_id, header_of(other_set[1]).set_id
    assert reading.asked[0].text.startswith(f"There is no {drive / isos[1].name}. "
                                            f"Insert volume 2 of the set {ours}")
    assert reading.asked[1].text.startswith(
        f"{drive / isos[1].name} holds volume 2 of {len(other_set)} of set {theirs}")
    assert "another set. Insert volume 2 of the set " + ours in reading.asked[1].text
    assert reading.asked[2].text.startswith(
        f"{drive / isos[1].name} holds volume 3 of {len(isos)} of set {ours}")
    assert ": not volume 2. Insert volume 2 of the set " + ours in reading.asked[2].text
    assert len(reading.asked) == len(isos) + 1  # volume 2 thrice, then each further one once
    assert_same_disk(source, target)


def test_a_partial_restore_opens_only_the_volume_holding_the_selected_files(volumes,
                                                                           tmp_path):
    source, isos = volumes
    forget_iso_sets()
    backup_set = load_set(str(isos[0]))
    on_two = next(p for p in backup_set.medium.header.parts_of("fs-2.tar.zst")
                  if p.volume == 2)
    with Catalog(backup_set.catalog_path) as catalog:
        # a file of the root archive whose frames lie wholly on volume 2 (the seek table
        # comes from the volume header, wherever the archive ends)
        chosen = next((path for path in (f"/bulk/part-{i}" for i in range(BULK_FILES))
                       if on_two.offset <= span(catalog, backup_set, path)[0]
                       and span(catalog, backup_set, path)[1] <= on_two.offset + on_two.size),
                      None)
        assert chosen, "no bulk file lies wholly on volume 2"
    assert backup_set.medium.opened == [1]
    forget_iso_sets()
    backup_set = load_set(str(isos[0]))
    with Catalog(backup_set.catalog_path) as catalog:
        selections = selection_for_paths(backup_set, catalog, [chosen])
    result = restore_selection(backup_set, selections, str(tmp_path / "out"))
    assert backup_set.medium.opened == [1, 2]
    assert result.frames_read <= 3
    with attached(source, read_only=True) as src, \
            mounted(src.partition(2), *RO[2]) as root:
        assert (tmp_path / "out" / chosen.lstrip("/")).read_bytes() == \
            Path(root, chosen.lstrip("/")).read_bytes()
    forget_iso_sets()


def span(catalog, backup_set, path):
    """The compressed bytes of the root archive that hold a file: from the start of its first
    frame to the end of its last."""
    fs, inner = resolve(backup_set, path)
    entry = catalog.lookup(fs.id, inner)
    with backup_set.medium.open_random("fs-2.tar.zst", lambda e: None) as piece, \
            SeekableReader(piece, "fs-2.tar.zst") as reader:
        first = reader.frames[reader.frame_at(entry.offset)]
        last = reader.frames[reader.frame_at(entry.offset + entry.length - 1)]
    return first.c_offset, last.c_offset + last.c_size


def test_the_parts_of_a_cut_piece_join_by_hand_into_what_zstd_and_tar_read(volumes, tmp_path):
    _, isos = volumes
    header = header_of(isos[0])
    parts = header.parts_of("fs-2.tar.zst")
    joined = tmp_path / "fs-2.tar.zst"
    with open(joined, "wb") as out:
        for part in parts:
            out.write(extract(isos[part.volume - 1], part.file, tmp_path / part.file))
    assert joined.stat().st_size == header.piece("fs-2.tar.zst").size
    listing = subprocess.run(f"zstd -dc {joined} | tar -tf -", shell=True, capture_output=True,
                             check=True).stdout.decode().split("\n")
    assert "./etc/fstab" in listing
    assert sum(name.startswith("./bulk/part-") for name in listing) == BULK_FILES


LOOP_CHANGE_FD = 0x4C06  # linux/loop.h: a read-only loop device takes another file


class Drive:
    """A read-only loop device standing for an optical drive: changing the disc changes the
    loop's file (LOOP_CHANGE_FD, as a disc change does, the kernel drops what it cached)."""

    def __init__(self, image: Path):
        self.node = subprocess.run(["losetup", "--find", "--show", "--read-only", str(image)],
                                   capture_output=True, text=True, check=True).stdout.strip()

    def insert(self, image: Path) -> None:
        import fcntl
        with open(self.node, "rb") as device, open(image, "rb") as disc:
            fcntl.ioctl(device.fileno(), LOOP_CHANGE_FD, disc.fileno())

    def close(self) -> None:
        subprocess.run(["losetup", "--detach", self.node], check=True)


def test_a_partial_restore_from_a_drive_asks_for_the_disc_it_needs(volumes, other_set,
                                                                   tmp_path):
    """The same reader on a block device: volume 1 in the drive, volume 2 asked for; another
    set's disc refused in words (and ejected), then the right one read."""
    source, isos = volumes
    ours = header_of(isos[0]).set_id
    sizes = {isos[0].stat().st_size, isos[1].stat().st_size, other_set[1].stat().st_size}
    if len(sizes) != 1:
        pytest.skip("LOOP_CHANGE_FD needs images of one size")
    drive = Drive(isos[0])
    asked: list[str] = []
    offers = [other_set[1], isos[1]]

    def operator(event) -> None:
        if isinstance(event, Question):
            asked.append(event.text)
            drive.insert(offers.pop(0))
            event.answer(RETRY)

    try:
        forget_iso_sets()
        backup_set = load_set(drive.node)
        assert backup_set.medium.drive
        on_two = next(p for p in backup_set.medium.header.parts_of("fs-2.tar.zst")
                      if p.volume == 2)
        with Catalog(backup_set.catalog_path) as catalog:
            chosen = next(path for path in (f"/bulk/part-{i}" for i in range(BULK_FILES))
                          if on_two.offset <= span(catalog, backup_set, path)[0]
                          and span(catalog, backup_set, path)[1] <= on_two.offset + on_two.size)
            selections = selection_for_paths(backup_set, catalog, [chosen])
        restore_selection(backup_set, selections, str(tmp_path / "out"), listener=operator)
        assert backup_set.medium.opened == [1, 2]
        forget_iso_sets()
    finally:
        drive.close()
    assert asked[0].startswith(f"The set goes on on volume 2. Insert volume 2 of the set {ours}"
                               f" (labelled ")
    assert f"-2, volume id RC_{ours[:8].upper()}_2, of {len(isos)} volumes) into " \
           f"{drive.node}, then retry." in asked[0]
    assert asked[1].startswith(f"{drive.node} holds volume 2 of {len(other_set)} of set "
                               f"{header_of(other_set[1]).set_id}")
    assert "another set. Insert volume 2" in asked[1]
    assert len(asked) == 2
    with attached(source, read_only=True) as src, \
            mounted(src.partition(2), *RO[2]) as root:
        assert (tmp_path / "out" / chosen.lstrip("/")).read_bytes() == \
            Path(root, chosen.lstrip("/")).read_bytes()


def test_volume_1_boots_the_rescue_system_and_still_holds_the_set(volumes, tmp_path):
    """--rescue: volume 1 made with grub-mkrescue (El Torito for BIOS and UEFI) around the
    kernel and initrd; the set on it read as on the others. Booting it is the VM tests' part."""
    source, _ = volumes
    kernels = sorted(Path("/boot").glob("vmlinuz-*"))
    if not kernels or shutil.which("grub-mkrescue") is None:
        pytest.skip("no kernel in /boot or no grub-mkrescue")
    rescue = tmp_path / "rescue"
    (rescue / "pxe").mkdir(parents=True)
    shutil.copy(kernels[-1], rescue / "vmlinuz")
    # the initrd's content matters only to a boot; the cpio header makes it a real one
    (rescue / "initrd.img").write_bytes(b"070701" + bytes(2042))
    (rescue / "pxe/cmdline").write_text("console=ttyS0,115200 restore.media=cd\n")
    out = tmp_path / "discs"
    proc = cli("backup", "--disk", str(source), "--iso", str(out), "--volume-size", "40M",
               "--rescue", str(rescue))
    assert proc.returncode == 0, proc.stderr
    first = sorted(out.glob("*-1.iso"))[0]
    assert first.stat().st_size <= 40 * MiB
    report = subprocess.run(["xorriso", "-indev", str(first), "-report_el_torito", "plain"],
                            capture_output=True, text=True, check=True).stdout
    assert re.search(r"El Torito boot img :\s+1\s+BIOS\s+y", report)
    assert re.search(r"El Torito boot img :\s+2\s+UEFI\s+y", report)
    files = subprocess.run(["xorriso", "-indev", str(first), "-find", "/boot", "-type", "f"],
                           capture_output=True, text=True, check=True).stdout
    assert "'/boot/vmlinuz'" in files and "'/boot/initrd.img'" in files
    grub = extract(first, "boot/grub/grub.cfg", tmp_path / "grub.cfg").decode()
    assert "linux /boot/vmlinuz console=ttyS0,115200 restore.media=cd" in grub
    assert extract(first, "boot/vmlinuz", tmp_path / "k") == kernels[-1].read_bytes()
    forget_iso_sets()
    proc = cli("ls", str(first), "/etc")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith("fstab")
