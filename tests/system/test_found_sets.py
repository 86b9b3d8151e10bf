"""Sets found on this machine's media, without --set: a partition image holding a set,
attached read-only as a loop device, mounted read-only to look and unmounted after (the image
unchanged, byte for byte); a set in a mounted filesystem read in place; ISO volumes and a tape
image in a directory; an ISO volume written to a device with dd. Only the test's own loop
devices and directories are looked at: never this machine's disks."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from console.core.backupset.found import (
    Places,
    find_sets,
    open_found,
    release_found,
    unmounted_devices,
)
from console.core.backupset.manifest import load_set
from console.core.disks.sysblock import Host
from console.core.media.tapeset import TapeHeader, TapePiece, open_tape
from tests.isovolumes import write_volumes
from tests.system.images import attached, make_one_ext4_disk, mounted

pytestmark = pytest.mark.system

WEB01 = Path(__file__).parent.parent / "functional" / "data" / "web-01"
SET_ID = json.loads((WEB01 / "manifest.json").read_text())["set_id"]
ISO_SET = "4f1c2a3b-0000-4000-8000-000000000001"
TAPE_SET = "77777777-0000-4000-8000-000000000003"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mount_points() -> str:
    return Path("/proc/self/mountinfo").read_text()


@pytest.fixture(scope="module")
def stick(tmp_path_factory):
    """A GPT image whose ext4 partition holds the set web-01 in sets/web-01."""
    image = tmp_path_factory.mktemp("stick") / "stick.img"

    def fill(root: Path) -> None:
        shutil.copytree(WEB01, root / "sets" / "web-01")
        (root / "photos").mkdir()

    make_one_ext4_disk(image, 64, fill)
    return image


def test_a_partition_holding_a_set_is_mounted_read_only_to_look_and_left_as_it_was(stick):
    before = digest(stick)
    with attached(stick, read_only=True) as disk:
        partition = disk.partition(1)
        assert partition in unmounted_devices(Host())  # listed among what is not in use
        said = []
        found = find_sets(Places(drives=[], tapes=[], devices=[partition], mounts=[]),
                          said=said.append)
        assert said == [f"Looking at {partition}"]
        [one] = found
        assert (one.set_id, one.host, one.kind) == (SET_ID, "web-01", "disk")
        # a partition of the loop device, or a loop device of its own where this kernel does
        # not scan partitions of loop devices (tests/system/images.py)
        assert one.media in (f"partition {partition.removeprefix('/dev/')} (loop device of "
                             f"{stick})", f"disk {partition.removeprefix('/dev/')} (loop "
                                          f"device of {stick})")
        assert one.size > 0 and one.created
        assert (one.device, one.fstype, one.inside) == (partition, "ext4", "sets/web-01")
        assert partition not in mount_points()  # unmounted after looking
        where = open_found(one)  # mounted read-only again, to be read
        try:
            assert load_set(where).set_id == SET_ID
            line = next(line for line in mount_points().splitlines() if partition in line)
            assert " ro," in line or " ro " in line
        finally:
            release_found()
        assert partition not in mount_points()
    assert digest(stick) == before  # nothing written: no journal replayed, no atime


def test_a_mounted_filesystem_is_read_in_place_and_a_mounted_device_not_mounted_again(stick,
                                                                                       tmp_path):
    copy = tmp_path / "stick.img"
    shutil.copy(stick, copy)
    with attached(copy) as disk, mounted(disk.partition(1), options="ro") as root:
        assert disk.partition(1) not in unmounted_devices(Host())
        found = find_sets(Places(drives=[], tapes=[], devices=[],
                                 mounts=[(str(root), disk.partition(1), "ext4")]))
        [one] = found
        assert one.where == str(root / "sets" / "web-01") and one.set_id == SET_ID
        assert one.media == f"ext4 {disk.partition(1)} mounted at {root}"
        assert open_found(one) == one.where  # opened where it is
        mounts = [line for line in mount_points().splitlines() if disk.partition(1) in line]
        assert len(mounts) == 1


def test_iso_volumes_and_a_tape_image_in_a_directory_and_an_iso_written_to_a_device(tmp_path):
    if shutil.which("xorriso") is None:
        pytest.skip("needs xorriso")
    volumes, _ = write_volumes(tmp_path / "iso", ISO_SET)
    shelf = tmp_path / "shelf"
    (shelf / "discs").mkdir(parents=True)
    for path in reversed(volumes):  # the lowest number is the one listed
        shutil.copy(path, shelf / "discs" / path.name)
    header = TapeHeader(set_id=TAPE_SET, volume=1, block_size=65536,
                        pieces=[TapePiece("fs-1.tar.zst", 1000, "ab" * 32)], first=(0, 0),
                        host="tapehost", created="2026-02-02T00:00:00+00:00")
    with open_tape(str(shelf / "monday.tap"), write=True) as tape:
        tape.write_record(header.record())
        tape.write_filemark(2)
    found = find_sets(Places(drives=[], tapes=[], devices=[], mounts=[],
                             directories=[str(shelf)]))
    by_id = {f.set_id: f for f in found}
    assert set(by_id) == {ISO_SET, TAPE_SET}
    iso = by_id[ISO_SET]
    assert (iso.where, iso.volume, iso.volumes) == (str(shelf / "discs" / volumes[0].name), 1,
                                                    len(volumes))
    assert iso.media == f"ISO volume {volumes[0].name} in directory {shelf}"
    assert iso.words().startswith("web1, made 2026-01-02T03:04:05+00:00, 5.0 MiB")
    tap = by_id[TAPE_SET]
    assert (tap.where, tap.host, tap.size) == (str(shelf / "monday.tap"), "tapehost", 1000)

    # volume 2 written to a device with dd (a USB stick): read as ISO, not mounted
    with _loop(volumes[1]) as device:
        [one] = find_sets(Places(drives=[], tapes=[], devices=[device], mounts=[]))
        assert (one.set_id, one.volume, one.where) == (ISO_SET, 2, device)
        assert one.media.endswith(", an ISO volume")


class _loop:
    """A read-only loop device of a file, without partition scanning."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> str:
        self.device = subprocess.run(["losetup", "--show", "-f", "-r", str(self.path)],
                                     capture_output=True, text=True, check=True).stdout.strip()
        return self.device

    def __exit__(self, *exc) -> None:
        subprocess.run(["losetup", "-d", self.device], check=True)
