"""The embedded demo: a generated source disk image, its backup set, and target disk images.

Everything lives in one work directory (default /var/tmp/restore-console-demo), never on a real
disk: the source and the targets are image files attached through loop devices.
"""

from __future__ import annotations

import os
import random
import textwrap

from .core.backupset.backup import backup
from .core.backupset.manifest import MANIFEST, BackupSet, load_set
from .core.disks.blockdev import attach_disk, mounted
from .core.disks.partition_table import write_table
from .core.disks.safety import usage_of
from .core.disks.sysblock import Host
from .core.errors import RestoreError
from .core.events import Listener, Message
from .core.layout import Disk, Partition
from .core.system import run

MiB = 1024 * 1024
DEMO_DIR = os.environ.get("RESTORE_CONSOLE_DEMO_DIR", "/var/tmp/restore-console-demo")
SOURCE_SIZE = 256 * MiB

_WORDS = ("restore backup disk partition console tape volume mount kernel initrd archive "
          "catalog checksum sector boot loader swap label uuid rescue operator night").split()


def demo_paths(base: str = DEMO_DIR) -> dict[str, str]:
    return {"dir": base, "source": os.path.join(base, "source-disk.img"),
            "set": os.path.join(base, "set"),
            "same": os.path.join(base, "target-same-size.img"),
            "larger": os.path.join(base, "target-larger.img"),
            "smaller": os.path.join(base, "target-smaller.img")}


# The targets a newcomer can try every path with: the same size, larger, and too small.
TARGET_SIZES = {"same": SOURCE_SIZE, "larger": 2 * SOURCE_SIZE, "smaller": 3 * SOURCE_SIZE // 4}


def demo_targets(base: str = DEMO_DIR) -> list[str]:
    """The demo's target disk-image files, in the order they are offered."""
    paths = demo_paths(base)
    return [paths[key] for key in TARGET_SIZES]


def has_demo_set(base: str = DEMO_DIR) -> bool:
    return os.path.exists(os.path.join(demo_paths(base)["set"], MANIFEST))


def _source_layout() -> Disk:
    """GPT: BIOS boot, ext4 root, ext4 /home, swap."""
    parts = [(1, 1, 1, "bios_grub", "21686148-6449-6E6F-744E-656564454649", ["bios_grub"]),
             (2, 2, 150, "root", "0FC63DAF-8483-4772-8E79-3D69D8477DE4", []),
             (3, 152, 70, "home", "0FC63DAF-8483-4772-8E79-3D69D8477DE4", []),
             (4, 222, 32, "swap", "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", ["swap"])]
    return Disk(name="demo", size=SOURCE_SIZE, logical_sector_size=512, physical_sector_size=512,
                table="gpt", partitions=[
                    Partition(number=n, start=start * MiB, size=size * MiB, kind="primary",
                              flags=flags, name=name, type_uuid=guid)
                    for n, start, size, name, guid, flags in parts])


def _write_tree(root: str, files: int, rng: random.Random) -> None:
    for i in range(files):
        folder = os.path.join(root, f"projects/p{i % 7}")
        os.makedirs(folder, exist_ok=True)
        text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(10, 2000)))
        with open(os.path.join(folder, f"notes-{i}.txt"), "w") as f:
            f.write(textwrap.fill(text) + "\n")


def make_source(path: str) -> None:
    """Partitions and fills the demo source disk image."""
    with open(path, "wb") as f:
        f.truncate(SOURCE_SIZE)
    layout = _source_layout()
    write_table(path, layout)
    spans = [(p.number, p.start, p.size) for p in layout.partitions]
    rng = random.Random(1)
    with attach_disk(path, spans, read_only=False) as disk:
        run(["mkfs.ext4", "-q", "-L", "root", disk.partition(2)], "make the demo root filesystem")
        run(["mkfs.ext4", "-q", "-L", "home", disk.partition(3)], "make the demo home filesystem")
        run(["mkswap", "-L", "swap", disk.partition(4)], "make the demo swap")
        with mounted(disk.partition(2), "ext4") as root:
            for folder in ("etc", "home", "var/log", "boot/grub", "usr/share/doc/demo"):
                os.makedirs(os.path.join(root, folder), exist_ok=True)
            with open(os.path.join(root, "etc/fstab"), "w") as f:
                f.write("LABEL=root / ext4 errors=remount-ro 0 1\n"
                        "LABEL=home /home ext4 defaults 0 2\n"
                        "LABEL=swap none swap sw 0 0\n")
            with open(os.path.join(root, "etc/hostname"), "w") as f:
                f.write("demo-server\n")
            with open(os.path.join(root, "boot/grub/grub.cfg"), "w") as f:
                f.write("set root=(hd0,gpt2)\nlinux /vmlinuz root=LABEL=root\n")
            os.symlink("../usr/share/doc/demo", os.path.join(root, "etc/demo-doc"))
            _write_tree(os.path.join(root, "usr/share/doc/demo"), 200, rng)
        with mounted(disk.partition(3), "ext4") as home:
            os.makedirs(os.path.join(home, "alice"))
            _write_tree(os.path.join(home, "alice"), 300, rng)
            os.chown(os.path.join(home, "alice"), 1000, 1000)


def refuse_if_in_use(images: list[str], host: Host = Host()) -> None:
    """Refuses, naming the image, its loop devices and their mounts, to overwrite an image file
    that is attached: whoever attached it (a restore onto it, an operator looking at it) would
    lose what is on it, and a mounted filesystem would be corrupted under its mount."""
    for image in images:
        loops = host.loops_backed_by(image)
        if not loops:
            continue
        devices = [f"/dev/{os.path.basename(loop)}" for loop in loops]
        mounts = [use for use in usage_of(set(loops), None, host).in_use if use.kind == "mount"]
        why = f"attached as {', '.join(devices)}" + (
            f", and {'; '.join(use.what for use in mounts)}" if mounts else "")
        deepest_first = sorted(mounts, key=lambda use: use.mount_point.count("/"), reverse=True)
        commands = ([f"umount {use.mount_point}" for use in deepest_first]
                    + [f"losetup -d {device}" for device in devices])
        raise RestoreError(
            f"The demo blanks its disk-image files each time it starts, but {image} is in "
            f"use: {why}. Nothing was blanked.",
            "Leave what uses it (a restore onto it, a shell in it), or clean up with: "
            + "; ".join(commands) + " - then start the demo again.")


def prepare(base: str = DEMO_DIR, listener: Listener = print) -> BackupSet:
    """Creates (once) the demo source image and its set, and (each time) blank target images.
    An image that is attached or mounted is refused before anything is written."""
    if os.geteuid() != 0:
        raise RestoreError("The demo needs root: it attaches disk images as loop devices and "
                           "mounts them. Reading a set (inspect, ls) works without root.",
                           "Run it as root, e.g. sudo make demo.")
    paths = demo_paths(base)
    os.makedirs(base, exist_ok=True)
    remade = [] if has_demo_set(base) else [paths["source"]]
    refuse_if_in_use(remade + [paths[key] for key in TARGET_SIZES])
    if not has_demo_set(base):
        listener(Message(f"Making the demo source disk {paths['source']}"))
        make_source(paths["source"])
        if os.path.isdir(paths["set"]):
            for name in os.listdir(paths["set"]):
                os.unlink(os.path.join(paths["set"], name))
        backup([paths["source"]], paths["set"], listener)
    for key, size in TARGET_SIZES.items():
        with open(paths[key], "wb") as f:
            f.truncate(size)
    return load_set(paths["set"])
