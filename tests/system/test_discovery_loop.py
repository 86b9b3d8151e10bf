"""Target discovery on this machine, with real image files attached as loop devices."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from console.core.disks.discovery import (
    TargetDisk,
    block_monitor,
    describe_device,
    discover_targets,
)
from console.core.disks.safety import check_target
from console.core.errors import RestoreError
from tests.system.images import attached, mounted

pytestmark = pytest.mark.system

MiB = 1024 * 1024


def make_image(path: Path, size_mib: int = 64) -> Path:
    """An image with one ext4 partition filling it (msdos table)."""
    with open(path, "wb") as f:
        f.truncate(size_mib * MiB)
    subprocess.run(["sfdisk", "-q", str(path)], input="label: dos\n,,83\n", text=True,
                   check=True, capture_output=True)
    with attached(path) as disk:
        subprocess.run(["mkfs.ext4", "-q", disk.partition(1)], check=True, capture_output=True)
    return path


def by_path(targets: list[TargetDisk], path: str) -> TargetDisk:
    [found] = [t for t in targets if t.path == path]
    return found


def test_attached_image_is_listed_with_its_file_and_size(tmp_path):
    image = make_image(tmp_path / "disk.img")
    with attached(image) as disk:
        loop = by_path(discover_targets(None), disk.device)
        assert loop.name == os.path.basename(disk.device)
        assert loop.size == 64 * MiB
        assert loop.backing_file == str(image)
        assert loop.transport == "loop" and not loop.is_image
        assert loop.logical_sector_size == 512 and loop.alignment >= MiB
        assert loop.mounted == [] and loop.problems() == []
        assert str(image) in loop.title()
        with mounted(disk.partition(1)) as where:
            loop = by_path(discover_targets(None), disk.device)
            assert loop.mounted == [f"{disk.partition(1)} is mounted at {where}"]
            assert loop.problems() == [f"in use: {disk.partition(1)} is mounted at {where}"]
    assert disk.device not in [t.path for t in discover_targets(None)]  # detached: free again


def test_image_named_as_target(tmp_path):
    image = make_image(tmp_path / "target.img", 32)
    [target] = [t for t in discover_targets(None, [str(image)]) if t.is_image]
    assert (target.path, target.size, target.problems()) == (str(image), 32 * MiB, [])
    with attached(image) as disk:
        targets = discover_targets(None, [str(image)])
        # The image stands for the loop device attached to it.
        assert disk.device not in [t.path for t in targets]
        assert by_path(targets, str(image)).problems() == []
        with mounted(disk.partition(1)) as where:
            target = by_path(discover_targets(None, [str(image)]), str(image))
            assert target.mounted == [f"{disk.partition(1)} is mounted at {where}"]


def test_disk_holding_the_set_is_flagged(tmp_path):
    image = make_image(tmp_path / "media.img")
    other = make_image(tmp_path / "other.img", 32)
    with attached(image) as disk, attached(other) as spare, mounted(disk.partition(1)) as where:
        set_dir = Path(where, "sets", "host1")
        set_dir.mkdir(parents=True)
        targets = discover_targets(str(set_dir))
        media = by_path(targets, disk.device)
        assert media.holds_media and not media.holds_system
        assert media.problems()[0] == "holds the backup set being restored"
        assert not by_path(targets, spare.device).holds_media
        # The same facts refuse the disk right before writing.
        with pytest.raises(RestoreError, match="holds the backup set"):
            check_target(disk.device, str(set_dir))
        check_target(spare.device, str(set_dir))


def test_the_running_system_disk_is_flagged():
    root = [t for t in discover_targets(None) if t.holds_system]
    # / may be on a disk (a VM, a CI runner) or on no disk at all (a rescue initrd's tmpfs).
    with open("/proc/self/mountinfo") as f:
        root_source = next(line.split(" - ")[1].split()[1] for line in f
                           if line.split()[4] == "/")
    if not root_source.startswith("/dev/"):
        pytest.skip(f"/ is on {root_source}, not on a disk")
    assert root and all("holds the running system" in t.problems() for t in root)


def test_attaching_an_image_is_reported_by_the_block_monitor(tmp_path):
    image = tmp_path / "hotplug.img"
    with open(image, "wb") as f:
        f.truncate(8 * MiB)
    monitor = block_monitor()
    device = subprocess.run(["losetup", "-f", "--show", str(image)], check=True,
                            capture_output=True, text=True).stdout.strip()
    try:
        seen = []
        deadline = time.monotonic() + 10  # events arrive within milliseconds; this bounds a hang
        while time.monotonic() < deadline:
            event = monitor.poll(timeout=1)
            if event is None:
                continue
            seen.append((event.action, event.device_node, event.device_type))
            if event.device_node == device:
                break
        assert any(node == device for _, node, _ in seen), seen
        assert all(kind == "disk" for _, _, kind in seen)
    finally:
        subprocess.run(["losetup", "-d", device], check=True)


def test_a_block_device_is_described_as_discovery_sees_it(tmp_path):
    image = tmp_path / "described.img"
    with open(image, "wb") as f:
        f.truncate(8 * MiB)
    device = subprocess.run(["losetup", "-f", "--show", str(image)], check=True,
                            capture_output=True, text=True).stdout.strip()
    try:
        found = describe_device(device)
        assert found is not None and found.path == device
        assert found.backing_file == str(image) and found.size == 8 * MiB
        assert describe_device(str(image)) is None  # a file is not a disk of this machine
    finally:
        subprocess.run(["losetup", "-d", device], check=True)
