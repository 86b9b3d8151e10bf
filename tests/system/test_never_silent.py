"""Never silent: a backup says what it saved another way (a partition of unknown content, as a
raw image) and what it could not capture (a btrfs subvolume whose name btrfs-progs prints so
that it cannot be read back): by default it stops in words and writes no manifest; with
--allow-omissions it goes on and the output, the manifest, inspect and the start screen say
what the set lacks."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from console.core.backupset.manifest import MANIFEST, load_set
from console.tui.screens.start import partition_lines, set_summary
from tests.system.clitool import cli
from tests.system.images import MiB, attached, mounted

pytestmark = pytest.mark.system

RANDOM_MIB = 4


def luks1_header() -> bytes:
    """The start of a LUKS1 header as cryptsetup writes it (no key slots: nothing is ever
    opened here), for want of cryptsetup in the test environment: blkid reads crypto_LUKS."""
    return (b"LUKS\xba\xbe" + struct.pack(">H", 1) + b"aes".ljust(32, b"\0")
            + b"xts-plain64".ljust(32, b"\0") + b"sha256".ljust(32, b"\0")
            + struct.pack(">II", 4096, 64) + bytes(20) + bytes(32) + struct.pack(">I", 1000)
            + b"0a3e0c4b-8a47-4d0e-9a4b-3f1e2d9c8b7a".ljust(40, b"\0"))


def _image(path: Path, size_mib: int, table: str) -> None:
    with open(path, "wb") as f:
        f.truncate(size_mib * MiB)
    subprocess.run(["sfdisk", "-q", str(path)], input=table, text=True, check=True)


@pytest.fixture(scope="module")
def unknown_content(tmp_path_factory) -> Path:
    """ext4 (partition 1), a partition of random bytes blkid knows nothing of (2) and one
    that starts with a LUKS header (3)."""
    image = tmp_path_factory.mktemp("unknown") / "source.img"
    _image(image, 48, f"label: gpt\nsize=32M, type=L\nsize={RANDOM_MIB}M, type=L\n"
           "size=4M, type=L\n")
    with attached(image) as disk:
        subprocess.run(["mkfs.ext4", "-q", "-L", "root", disk.partition(1)], check=True)
        with mounted(disk.partition(1)) as root:
            (root / "hello.txt").write_text("hello\n")
        with open(disk.partition(2), "wb") as raw:
            raw.write(os.urandom(RANDOM_MIB * MiB))
        with open(disk.partition(3), "r+b") as luks:
            luks.write(luks1_header())
    return image


@pytest.fixture(scope="module")
def btrfs_with_subvolume(tmp_path_factory) -> Path:
    """btrfs whose top level holds a file, a subvolume /projects (captured) and one whose name
    has a line break, which `btrfs subvolume list` prints on two lines."""
    if shutil.which("mkfs.btrfs") is None or shutil.which("btrfs") is None:
        pytest.skip("needs btrfs-progs")
    image = tmp_path_factory.mktemp("btrfs") / "source.img"
    _image(image, 200, "label: gpt\nsize=160M, type=L\n")
    with attached(image) as disk:
        subprocess.run(["mkfs.btrfs", "-q", "-L", "root", disk.partition(1)], check=True)
        with mounted(disk.partition(1), "btrfs") as root:
            (root / "etc").mkdir()
            (root / "etc/hostname").write_text("btrfs-host\n")
            for name in ("projects", "odd\nname"):
                subprocess.run(["btrfs", "-q", "subvolume", "create", str(root / name)],
                               check=True, capture_output=True)
            (root / "projects/plan.txt").write_text("only in the subvolume\n")
            (root / "odd\nname/lost.txt").write_text("in the subvolume btrfs cannot name\n")
    return image


def test_a_partition_of_unknown_content_is_said_to_be_a_raw_image(unknown_content, tmp_path):
    dest = tmp_path / "set"
    proc = cli("backup", "--disk", str(unknown_content), "--to", str(dest))
    assert proc.returncode == 0, proc.stderr
    said = proc.stdout + proc.stderr
    assert "saved as a raw image of the whole partition: blkid finds no filesystem" in said
    manifest = json.loads((dest / MANIFEST).read_text())
    raw = next(fs for fs in manifest["filesystems"] if fs["partition"] == 2)
    assert raw["archive"]["kind"] == "raw"
    assert raw["image_reason"].startswith("blkid finds no filesystem on it")
    luks = next(fs for fs in manifest["filesystems"] if fs["partition"] == 3)
    assert luks["archive"]["kind"] == "raw" and luks["type"] == ""
    assert "(crypto_LUKS): saved as a raw image of the whole partition: it is encrypted with " \
        "LUKS: it is kept encrypted" in said
    assert luks["image_reason"].startswith("it is encrypted with LUKS")
    assert luks["content"] == "crypto_LUKS"
    backup_set = load_set(str(dest))
    lines = [" ".join(line.split()) for line in partition_lines(backup_set, backup_set.disks[0])]
    assert lines[1:] == ["2 partition 2 4.0 MiB, saved as an image",
                         "3 LUKS (encrypted) 4.0 MiB, saved as an image"]
    assert manifest["omissions"] == []  # captured whole, another way: nothing left out
    shown = cli("inspect", str(dest))
    assert shown.returncode == 0, shown.stderr
    assert "saved as a raw image: blkid finds no filesystem" in shown.stdout
    assert "crypto_LUKS" in shown.stdout and "saved as a raw image: it is encrypted" in \
        shown.stdout
    assert "incomplete" not in shown.stdout


def test_a_btrfs_subvolume_it_cannot_read_stops_the_backup_in_words(btrfs_with_subvolume,
                                                                    tmp_path):
    dest = tmp_path / "set"
    proc = cli("backup", "--disk", str(btrfs_with_subvolume), "--to", str(dest))
    assert proc.returncode == 1
    assert "/odd (btrfs lists this subvolume, but it is not at that path" in proc.stderr
    assert "btrfs subvolume list prints a line that cannot be read ('name'" in proc.stderr
    assert "No set was written" in proc.stderr
    assert "--allow-omissions" in proc.stderr
    assert not (dest / MANIFEST).exists()


def test_allowed_omissions_are_said_and_recorded(btrfs_with_subvolume, tmp_path):
    dest = tmp_path / "set"
    proc = cli("backup", "--disk", str(btrfs_with_subvolume), "--to", str(dest),
               "--allow-omissions")
    assert proc.returncode == 0, proc.stderr
    assert "This set is incomplete: 2 things were not captured fully:" in proc.stdout
    assert ":/odd: left out (btrfs lists this subvolume" in proc.stdout
    backup_set = load_set(str(dest))
    assert [(o.fs, o.path, o.what) for o in backup_set.omissions] == [
        (1, "", "left out"), (1, "/odd", "left out")]
    assert [s.path for s in backup_set.filesystems[0].subvolumes] == ["projects"]
    shown = cli("inspect", str(dest))
    assert shown.returncode == 0, shown.stderr
    assert ":/odd: left out (btrfs lists this subvolume" in shown.stdout
    summary = set_summary(backup_set, datetime.now(timezone.utc))
    assert "This set is incomplete:[/b] 2 things were not captured fully" in summary
    # What was said is what happened: the readable subvolume is in the set, the other one's
    # directory is there, empty.
    listing = cli("ls", str(dest), "/projects")
    assert listing.returncode == 0, listing.stderr
    assert "plan.txt" in listing.stdout
    odd = cli("ls", str(dest), "/", "--json")
    names = {e["name"]: e for e in json.loads(odd.stdout)}
    assert names["odd\nname"]["kind"] == "dir"
    assert "lost.txt" not in cli("ls", str(dest), "/", "--search", "lost").stdout
