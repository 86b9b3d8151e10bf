"""The demo blanks its target images each time it starts, but never one that is attached or
mounted: it refuses in words naming the image, its loop device and the mount, and writes
nothing. Judged with losetup, mount and a hash of the image."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from console import demo
from console.core.errors import RestoreError
from tests.system.images import attached, mounted

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def demo_base(tmp_path_factory) -> str:
    """The demo set, made once for this module in a directory of its own."""
    base = str(tmp_path_factory.mktemp("demo"))
    demo.prepare(base, listener=lambda event: None)
    return base


def file_hash(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def give_a_filesystem(image: str) -> None:
    """One ext4 partition holding a file: what an operator's work on the target looks like."""
    subprocess.run(["sfdisk", "-q", image], input=b"label: gpt\nsize=64M, type=L\n", check=True)
    with attached(Path(image)) as disk:
        subprocess.run(["mkfs.ext4", "-q", disk.partition(1)], check=True)
        with mounted(disk.partition(1)) as root:
            (root / "work.txt").write_text("what the operator restored\n")


def test_an_attached_and_mounted_target_is_refused_and_left_as_it_was(demo_base):
    target = demo.demo_paths(demo_base)["larger"]
    give_a_filesystem(target)
    before = {path: file_hash(path) for path in demo.demo_targets(demo_base)}
    # Read-only, so that the mount itself changes no byte of the image.
    with attached(Path(target)) as disk, mounted(disk.partition(1), options="ro") as root:
        with pytest.raises(RestoreError) as refused:
            demo.prepare(demo_base, listener=lambda event: None)
        words = f"{refused.value.message} {refused.value.hint}"
        assert target in words and "Nothing was blanked" in words
        assert f"attached as {disk.device}" in words
        assert f"{disk.partition(1)} is mounted at {root}" in words
        assert f"umount {root}" in words and f"losetup -d {disk.device}" in words
        assert (root / "work.txt").read_text() == "what the operator restored\n"
    # Not one image blanked, not only the one in use: the refusal comes before any write.
    assert {path: file_hash(path) for path in demo.demo_targets(demo_base)} == before


def test_an_attached_target_is_refused_even_unmounted(demo_base):
    target = demo.demo_paths(demo_base)["same"]
    before = file_hash(target)
    with attached(Path(target), read_only=True) as disk:
        with pytest.raises(RestoreError) as refused:
            demo.prepare(demo_base, listener=lambda event: None)
        assert f"{target} is in use: attached as {disk.device}." in refused.value.message
    assert file_hash(target) == before


def test_targets_no_longer_in_use_are_blanked_again(demo_base):
    target = demo.demo_paths(demo_base)["smaller"]
    give_a_filesystem(target)
    demo.prepare(demo_base, listener=lambda event: None)
    assert os.stat(target).st_blocks == 0  # all a hole again
    assert os.path.getsize(target) == demo.TARGET_SIZES["smaller"]
