"""Nuke mode on disk images: restore-console --nuke restores unattended when the target is
certain, refuses in words when it is not, and follows a plan file; exit codes 0 and 1."""

from __future__ import annotations

import subprocess

import pytest

from tests.system.clitool import cli, cli_backup
from tests.system.images import MiB, attached, blkid_of, mounted

pytestmark = pytest.mark.system

# An unusual size, so that no other disk of the machine is equally good by chance.
SIZE_MIB = 77


def make_source(path) -> str:
    """An msdos image with one ext4 root whose fstab names it /dev/vda1; its UUID."""
    with open(path, "wb") as f:
        f.truncate(SIZE_MIB * MiB)
    subprocess.run(["sfdisk", "-q", str(path)], input="label: dos\nsize=60MiB, type=83\n",
                   text=True, check=True)
    with attached(path) as disk:
        subprocess.run(["mkfs.ext4", "-q", "-L", "root", disk.partition(1)], check=True)
        with mounted(disk.partition(1)) as root:
            (root / "etc").mkdir()
            (root / "var/log").mkdir(parents=True)
            (root / "etc/fstab").write_text("/dev/vda1 / ext4 defaults 0 1\n")
            (root / "etc/motd").write_text("restored by nuke mode\n")
        return blkid_of(disk.partition(1))["UUID"]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    base = tmp_path_factory.mktemp("nuke")
    image = base / "source.img"
    uuid = make_source(image)
    return image, cli_backup(image, base / "set"), uuid


def blank(path, mib=SIZE_MIB):
    with open(path, "wb") as f:
        f.truncate(mib * MiB)
    return path


def restored_fstab(target) -> str:
    with attached(target, read_only=True) as disk, \
            mounted(disk.partition(1), "ext4", "ro,noload") as root:
        return (root / "etc/fstab").read_text()


def test_nuke_mode_restores_onto_the_one_same_size_disk_without_a_plan(source, tmp_path):
    image, set_dir, uuid = source
    target = blank(tmp_path / "target.img")
    proc = cli("--nuke", "--set", str(set_dir), "--image", str(target))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"restore-console: nuke mode, the set {set_dir} onto the suggested disks"
    assert f"    receives original disk {image} (same size (77.0 MiB))" in lines
    assert any(line.startswith("[10/11] Rewrite the references") for line in lines)
    assert "\r" not in proc.stdout  # plain lines, for a serial console
    assert lines[-1] == "restore-console: nuke mode done."
    # Same UUID (no --new-uuids): the device path alone becomes UUID=.
    assert restored_fstab(target) == f"UUID={uuid} / ext4 defaults 0 1\n"
    assert f"Rewritten: /etc/fstab line 1: /dev/vda1 -> UUID={uuid}" in proc.stdout


def test_nuke_mode_refuses_two_equally_good_targets_and_writes_nothing(source, tmp_path):
    _, set_dir, _ = source
    first, second = blank(tmp_path / "a.img"), blank(tmp_path / "b.img")
    proc = cli("--nuke", "--set", str(set_dir), "--image", str(first), "--image", str(second))
    assert proc.returncode == 1
    assert ("restore-console: Nuke mode does not guess, and the targets are not certain: "
            in proc.stderr)
    assert f"could go onto {first}, {second} (each of 77.0 MiB)" in proc.stderr \
        or f"could go onto {second}, {first} (each of 77.0 MiB)" in proc.stderr
    assert "Give a plan (--plan FILE" in proc.stderr
    assert first.stat().st_blocks == 0 and second.stat().st_blocks == 0


def test_a_plan_file_drives_nuke_mode_even_where_the_suggestion_would_be_uncertain(
        source, tmp_path):
    image, set_dir, _ = source
    first, second = blank(tmp_path / "a.img"), blank(tmp_path / "b.img", SIZE_MIB * 2)
    saved = tmp_path / "plan.json"
    proc = cli("plan", str(set_dir), "--map", f"{image}={second}", "--new-uuids",
               "--save", str(saved))
    assert proc.returncode == 0, proc.stderr
    proc = cli("--nuke", "--plan", str(saved))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[0] == f"restore-console: nuke mode, the plan {saved}"
    with attached(second, read_only=True) as disk:
        new = blkid_of(disk.partition(1))["UUID"]
    assert restored_fstab(second) == f"UUID={new} / ext4 defaults 0 1\n"
    assert first.stat().st_blocks == 0


def test_nuke_mode_options_without_nuke_or_with_a_subcommand_are_usage_errors(tmp_path):
    proc = cli("--plan", str(tmp_path / "plan.json"))
    assert proc.returncode == 2 and "--plan is for nuke mode" in proc.stderr
    proc = cli("--nuke", "inspect", str(tmp_path))
    assert proc.returncode == 2 and "--nuke is for nuke mode, without a subcommand" in proc.stderr
    proc = cli("--nuke")
    assert proc.returncode == 2 and "Nuke mode needs the set (--set SET)" in proc.stderr
