"""The rescue system (restore-console mkrescue) in a virtual machine, as the e2e tests and
bench/rescue_boot.py boot it: with -m 768 and the console on the serial line, a small source
disk's set at the root of a disk of its own (where init finds it by itself; making it needs
root), and the console's first screen as the serial line draws it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.e2e.vm import Disk, Machine
from tests.system.clitool import cli_backup
from tests.system.images import MiB, make_one_ext4_disk, mounted

SOURCE_MIB = 64
SET_DISK_MIB = 40  # not the source's size: nuke mode must not find two disks of that size
SOURCE_HOST = "e2e-source"
MEMORY_MIB = 768  # the whole restore must work with this much
SCREEN_TIMEOUT = 120  # one screen to the next under TCG on shared cores
# The console's first screen, drawn in full: its header, its last action and the serial
# theme's footer with the letter keys.
FIRST_SCREEN = (f"Backup of {SOURCE_HOST}", "[q] Quit", "? Help ! Shell L Log")


def rescue_machine(rescue: Path, workdir: Path, disks: list[Disk], append: str = "",
                   memory_mib: int = MEMORY_MIB) -> Machine:
    """The rescue system in `rescue` (vmlinuz, initrd.img) with the console on ttyS0."""
    return Machine(workdir=workdir, kernel=rescue / "vmlinuz", initrd=rescue / "initrd.img",
                   memory_mib=memory_mib, disks=disks,
                   append=f"console=ttyS0,115200 panic=-1 {append}".strip())


def wait_for_screen_with(console, *texts: str, timeout: float = SCREEN_TIMEOUT) -> str:
    """The screen once it shows all of texts: a screen is drawn over the line piece by piece."""
    every = "".join(f"(?=.*{re.escape(text)})" for text in texts)
    return console.wait_for_screen(re.compile(f"^{every}", re.S), timeout=timeout)


def fill_source(root: Path) -> None:
    """A small tree with what rsync -HAX checks: hard links, symbolic links, xattrs, modes."""
    (root / "etc").mkdir()
    # By label: the finalize leaves it as it is (its rewrite of device paths has system
    # tests), so the restored tree equals the source's.
    (root / "etc/fstab").write_text("LABEL=root / ext4 defaults 0 1\n")
    (root / "etc/hostname").write_text(f"{SOURCE_HOST}\n")
    (root / "var/log").mkdir(parents=True)
    data = root / "data"
    data.mkdir()
    for i in range(60):
        (data / f"file-{i}").write_bytes(os.urandom(i * 997))
    os.link(data / "file-7", data / "hard-link")
    os.symlink("file-8", data / "symlink")
    os.setxattr(data / "file-9", "user.e2e", b"kept")
    os.chmod(data / "file-10", 0o600)


def make_source_and_set_disk(base: Path) -> tuple[Path, Path]:
    """base/source.img (GPT, one ext4) and base/setdisk.img (ext4 without a table) holding its
    set, made by `restore-console backup`, at the filesystem's root."""
    source, set_disk = base / "source.img", base / "setdisk.img"
    make_one_ext4_disk(source, SOURCE_MIB, fill_source)
    with open(set_disk, "wb") as f:
        f.truncate(SET_DISK_MIB * MiB)
    subprocess.run(["mkfs.ext4", "-q", "-L", "sets", str(set_disk)], check=True)
    with mounted(str(set_disk)) as media:
        # At the media's root: init finds it with no restore.set on the command line.
        cli_backup(source, media / "made")
        for name in os.listdir(media / "made"):
            os.rename(media / "made" / name, media / name)
        (media / "made").rmdir()
    return source, set_disk
