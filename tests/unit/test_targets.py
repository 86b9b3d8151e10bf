"""The target list: this machine's disks from /sys/block, image files, and what stands against
each one."""

from __future__ import annotations

import os

import pytest

from console.core.layout import Disk
from console.core.targets import TargetChoice, block_devices, image_files, problems, size_problems

MiB = 1024 * 1024


def disk(size: int) -> Disk:
    return Disk(name="/dev/sda", size=size, logical_sector_size=512, physical_sector_size=512,
                table="gpt")


def test_block_devices_are_the_whole_disks_the_kernel_lists_with_their_sizes():
    listed = block_devices()
    for choice in listed:
        name = os.path.basename(choice.path)
        assert not name.startswith(("loop", "ram", "zram"))
        with open(f"/sys/block/{name}/size") as f:
            assert choice.size == int(f.read()) * 512 > 0
        assert os.path.exists(choice.path) and choice.kind == "disk"
    expected = {n for n in os.listdir("/sys/block")
                if not n.startswith(("loop", "ram", "zram", "sr", "fd"))
                and int(open(f"/sys/block/{n}/size").read()) > 0}
    assert {os.path.basename(c.path) for c in listed} == expected


def test_image_files_that_exist_are_targets(tmp_path):
    image = tmp_path / "target.img"
    with open(image, "wb") as f:
        f.truncate(64 * MiB)
    (choice,) = image_files([str(image), str(tmp_path / "missing.img")])
    assert choice == TargetChoice(str(image), 64 * MiB, "image")
    assert choice.name == "target.img"
    assert choice.title() == "target.img  64.0 MiB  disk-image file"


def test_titles_name_model_and_serial():
    assert TargetChoice("/dev/sdb", 500 * 1024 ** 3, "disk", "ACME SSD", "S123").title() == \
        "sdb  500.0 GiB  ACME SSD serial S123"
    assert TargetChoice("/dev/nvme0n1", 1024 ** 4, "disk").title() == "nvme0n1  1.0 TiB  disk"


def test_size_problems():
    same = TargetChoice("/x", 100 * MiB, "image")
    small = TargetChoice("/x", 99 * MiB, "image")
    large = TargetChoice("/x", 101 * MiB, "image")
    assert size_problems(same, disk(100 * MiB)) == []
    assert size_problems(small, disk(100 * MiB)) == \
        ["too small: 99.0 MiB, the original had 100.0 MiB"]
    assert size_problems(large, disk(100 * MiB)) == \
        ["larger: resizing onto it comes with the disk-mapping editor"]
    assert size_problems(large, disk(100 * MiB), writing=False) == []
    assert size_problems(small, disk(100 * MiB), writing=False) != []


def test_problems_include_the_safety_checks(tmp_path):
    set_dir = tmp_path / "set"
    set_dir.mkdir()
    image = tmp_path / "target.img"
    with open(image, "wb") as f:
        f.truncate(100 * MiB)
    choice = image_files([str(image)])[0]
    assert problems(choice, disk(100 * MiB), str(set_dir)) == []
    assert problems(choice, disk(200 * MiB), str(set_dir)) == \
        ["too small: 100.0 MiB, the original had 200.0 MiB"]


def _root_disk() -> str | None:
    """The whole disk / is on, found independently through sysfs; None on overlay and such."""
    st = os.stat("/")
    link = f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    if not os.path.exists(link):
        return None
    path = os.path.realpath(link)
    if os.path.exists(os.path.join(path, "partition")):
        path = os.path.dirname(path)
    return os.path.basename(path)


def test_the_disk_this_machine_runs_from_is_refused_in_words(tmp_path):
    root = _root_disk()
    listed = {os.path.basename(c.path): c for c in block_devices()}
    if root not in listed:
        pytest.skip("/ is not on a whole disk here (a container overlay): nothing to refuse")
    choice = listed[root]
    found = problems(choice, disk(choice.size), str(tmp_path))
    assert any("running system" in p or "holds the backup set" in p for p in found), found
