"""Disk images for system tests, made and inspected with the standard tools only.

Independent of console.core on purpose: the tests judge the project's code with these.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from tests.system.hardtree import build_hard_tree

MiB = 1024 * 1024
EFI_MIB = 16
SWAP_MIB = 32
XFS_MIN_MIB = 300  # mkfs.xfs 5.19+ refuses anything smaller

# GPT type GUIDs: ESP, Linux root (x86-64), Linux filesystem, Linux swap.
TYPE_ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
TYPE_ROOT_X86_64 = "4F68BCE3-E8CD-4C1A-96B4-96E6EA7D4F7F"
TYPE_LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
TYPE_SWAP = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"


def _run(*args: str | bytes | os.PathLike, stdin: str | None = None) -> str:
    proc = subprocess.run([os.fspath(a) for a in args], input=stdin, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} exited with {proc.returncode}: "
                           f"{proc.stderr.strip()}")
    return proc.stdout


def sfdisk_json(image: Path | str) -> dict:
    """The parsed output of `sfdisk --json` (its single key is "partitiontable")."""
    return json.loads(_run("sfdisk", "--json", image))


def blkid_of(device: str) -> dict[str, str]:
    """`blkid -o export` as a dict; empty when blkid finds nothing. No cache: always probes."""
    proc = subprocess.run(["blkid", "-c", "/dev/null", "-o", "export", device],
                          capture_output=True, text=True)
    if proc.returncode == 2:  # nothing recognised
        return {}
    if proc.returncode != 0:
        raise RuntimeError(f"blkid {device} exited with {proc.returncode}: {proc.stderr.strip()}")
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


@dataclass
class LoopDisk:
    """An attached image: the whole-disk loop device and one block device per partition."""

    device: str
    partitions: dict[int, str] = field(default_factory=dict)

    def partition(self, number: int) -> str:
        return self.partitions[number]


def _partition_number(node: str) -> int:
    """sfdisk names the partitions of an image file image1, image2...: the trailing digits."""
    digits = len(node) - len(node.rstrip("0123456789"))
    return int(node[-digits:])


def _table(image: Path) -> tuple[int, list[dict]]:
    """(sector size, partitions) of the image; no partitions if it has no table."""
    proc = subprocess.run(["sfdisk", "--json", os.fspath(image)], capture_output=True, text=True)
    if proc.returncode != 0:
        return 512, []
    table = json.loads(proc.stdout)["partitiontable"]
    parts = table.get("partitions", [])
    for part in parts:
        part["number"] = _partition_number(part["node"])
    return table.get("sectorsize", 512), parts


def _kernel_partitions(loop: str, parts: list[dict], sector: int) -> dict[int, str] | None:
    """Partition number -> sysfs dev ("major:minor") if the kernel has every partition of the
    table with the table's start and size; None otherwise.

    The scan of `losetup -P` is done when losetup returns, but kernels without partition-table
    support find nothing, and partitions added by hand (partx/BLKPG) can outlive an earlier
    attachment of the same loop device: so the geometry is checked, not only the presence.
    """
    name = os.path.basename(loop)
    found = {}
    for part in parts:
        number = part["number"]
        sysdir = Path(f"/sys/block/{name}/{name}p{number}")
        try:
            start = int((sysdir / "start").read_text()) * 512
            size = int((sysdir / "size").read_text()) * 512
            dev = (sysdir / "dev").read_text().strip()
        except (OSError, ValueError):
            return None
        if (start, size) != (part["start"] * sector, part["size"] * sector):
            return None
        found[number] = dev
    return found


def _wait_for_nodes(loop: str, devs: dict[int, str], seconds: float = 5.0) -> dict[int, str]:
    """Waits until /dev/loopNpM exists as the block device the kernel made (devtmpfs or udev
    creates it a moment after the kernel does); returns number -> node."""
    wanted = {number: (f"{loop}p{number}", tuple(map(int, dev.split(":"))))
              for number, dev in devs.items()}
    deadline = time.monotonic() + seconds
    while True:
        missing = []
        for node, (major, minor) in wanted.values():
            try:
                st = os.stat(node)
            except FileNotFoundError:
                missing.append(node)
                continue
            # A node left over from an earlier attachment may point at another device.
            if not stat.S_ISBLK(st.st_mode) or st.st_rdev != os.makedev(major, minor):
                missing.append(node)
        if not missing:
            return {number: node for number, (node, _) in wanted.items()}
        if time.monotonic() >= deadline:
            raise RuntimeError(f"partition nodes did not appear: {', '.join(missing)}")
        time.sleep(0.05)


@contextlib.contextmanager
def attached(image: Path, read_only: bool = False) -> Iterator[LoopDisk]:
    """Attaches image with partitions scanned and yields the LoopDisk; always detaches.

    Where the kernel cannot scan the table (no partition-table support, as on some CI
    kernels), each partition gets its own loop device with offset and size limit instead.
    """
    sector, parts = _table(image)
    ro = ["-r"] if read_only else []
    with contextlib.ExitStack() as stack:
        def losetup(*args: str) -> str:
            device = _run("losetup", "--show", "-f", *ro, *args).strip()
            stack.callback(_run, "losetup", "-d", device)
            return device

        disk = LoopDisk(losetup("-P", os.fspath(image)))
        devs = _kernel_partitions(disk.device, parts, sector)
        if devs is not None:
            disk.partitions = _wait_for_nodes(disk.device, devs)
        else:
            disk.partitions = {
                part["number"]: losetup("--offset", str(part["start"] * sector),
                                        "--sizelimit", str(part["size"] * sector),
                                        os.fspath(image))
                for part in parts}
        yield disk


def _unmount(mountpoint: Path) -> None:
    # A process that just closed a file (or udev probing) can keep the mount busy a moment.
    for _ in range(10):
        if subprocess.run(["umount", os.fspath(mountpoint)], capture_output=True).returncode == 0:
            return
        time.sleep(0.2)
    _run("umount", "--lazy", mountpoint)


@contextlib.contextmanager
def mounted(device: str, fstype: str | None = None, options: str = "") -> Iterator[Path]:
    """Mounts device on a fresh temporary directory and yields it; always unmounts and removes
    the directory."""
    mountpoint = Path(tempfile.mkdtemp(prefix="rc-test-mnt-"))
    try:
        _run("mount", *(["-t", fstype] if fstype else []), *(["-o", options] if options else []),
             device, mountpoint)
        try:
            yield mountpoint
        finally:
            _unmount(mountpoint)
    finally:
        mountpoint.rmdir()


def make_source_disk(path: Path, size_mib: int = 512) -> dict:
    """Creates a sparse GPT disk image with EFI (vfat), root (ext4), data (xfs) and swap.

    ext4 and xfs share what EFI and swap leave, xfs getting at least the 300 MiB mkfs.xfs
    requires. Returns {"size": bytes, "partitions": {number: {label, name, fstype, type, size}}}.
    """
    # 1 MiB before the first partition and 1 MiB at the end for alignment and the backup GPT.
    shared = size_mib - 2 - EFI_MIB - SWAP_MIB
    xfs_mib = max(XFS_MIN_MIB, shared // 2)
    ext4_mib = shared - xfs_mib
    if ext4_mib < 64:
        raise ValueError(f"a source disk needs at least {XFS_MIN_MIB + 64 + 50} MiB")
    partitions = {
        1: {"label": "EFI", "name": "EFI system", "fstype": "vfat", "type": TYPE_ESP,
            "size": EFI_MIB * MiB},
        2: {"label": "root", "name": "root", "fstype": "ext4", "type": TYPE_ROOT_X86_64,
            "size": ext4_mib * MiB},
        3: {"label": "data", "name": "data", "fstype": "xfs", "type": TYPE_LINUX,
            "size": xfs_mib * MiB},
        4: {"label": "swap", "name": "swap", "fstype": "swap", "type": TYPE_SWAP,
            "size": SWAP_MIB * MiB},
    }
    with open(path, "wb") as f:
        f.truncate(size_mib * MiB)
    script = "label: gpt\n" + "".join(
        f'size={p["size"] // MiB}MiB, type={p["type"]}, name="{p["name"]}"\n'
        for p in partitions.values())
    _run("sfdisk", "-q", path, stdin=script)
    # -I: a reused loop device can carry stale partitions (added with partx by an earlier
    # user), and mkfs.vfat then refuses a device that is only a partition here.
    mkfs = {"vfat": ["mkfs.vfat", "-I", "-n"], "ext4": ["mkfs.ext4", "-q", "-L"],
            "xfs": ["mkfs.xfs", "-q", "-L"], "swap": ["mkswap", "-L"]}
    with attached(path) as disk:
        for number, p in partitions.items():
            _run(*mkfs[p["fstype"]], p["label"], disk.partition(number))
    return {"size": size_mib * MiB, "partitions": partitions}


def make_one_ext4_disk(path: Path, size_mib: int, fill) -> None:
    """A sparse GPT image with one ext4 partition (label root) filling all but 16 MiB;
    fill(root) writes its tree into the mounted filesystem."""
    with open(path, "wb") as f:
        f.truncate(size_mib * MiB)
    _run("sfdisk", "-q", path, stdin=f"label: gpt\nsize={size_mib - 16}M, type=L\n")
    with attached(path) as loop:
        _run("mkfs.ext4", "-q", "-L", "root", loop.partition(1))
        with mounted(loop.partition(1)) as root:
            fill(root)


def _fstab(uuid: dict[str, str], partuuid: dict[str, str]) -> str:
    return (
        "# written by tests/system/images.py\n"
        f"UUID={uuid['root']}  /  ext4  errors=remount-ro  0  1\n"
        "LABEL=data  /srv/data  xfs  defaults  0  2\n"
        f"PARTUUID={partuuid['EFI']}  /boot/efi  vfat  umask=0077  0  1\n"
        f"UUID={uuid['swap']}  none  swap  sw  0  0\n"
    )


def populate_source_disk(path: Path) -> dict:
    """Fills a disk from make_source_disk: the hard tree and an /etc/fstab on root (ext4), a
    few files on data (xfs). Returns build_hard_tree's result plus "uuid" and "partuuid",
    each keyed by label (EFI, root, data, swap)."""
    labels = {1: "EFI", 2: "root", 3: "data", 4: "swap"}
    partuuid = {labels[_partition_number(p["node"])]: p["uuid"]
                for p in sfdisk_json(path)["partitiontable"]["partitions"]}
    with attached(path) as disk:
        uuid = {label: blkid_of(disk.partition(number))["UUID"]
                for number, label in labels.items()}
        with mounted(disk.partition(2), "ext4") as root:
            for directory in ("etc", "srv/data", "boot/efi"):
                (root / directory).mkdir(parents=True)
            (root / "etc/fstab").write_text(_fstab(uuid, partuuid))
            tree = build_hard_tree(root)  # last: it sets every mtime under root
        with mounted(disk.partition(3), "xfs") as data:
            (data / "www").mkdir()
            (data / "www/index.html").write_text("<h1>restore-console</h1>\n")
            (data / "notes.txt").write_text("data partition\n")
            os.setxattr(data / "notes.txt", "user.origin", b"xfs")
            (data / "current").symlink_to("www")
    return {**tree, "uuid": uuid, "partuuid": partuuid}
