"""A fake sysfs tree and /proc files, laid out as the kernel lays them out, for discovery tests.

    block/sda -> ../devices/.../block/sda          the disk: size, ro, removable, queue/...
    devices/.../block/sda/sda1                     a partition: partition, size, start, dev
    devices/.../block/sda/device -> ../../..       the device: model, serial, wwid, vpd_pg80
    class/block/NAME, dev/block/MAJ:MIN            links to every disk and partition
    mountinfo, swaps                               the /proc files
"""

from __future__ import annotations

import os
from pathlib import Path

from console.core.disks.sysblock import Host


class FakeSys:
    def __init__(self, root: Path):
        self.root = root
        self.sys = root / "sys"
        for directory in ("block", "class/block", "dev/block", "devices/virtual/block"):
            (self.sys / directory).mkdir(parents=True)
        self.mountinfo = root / "mountinfo"
        self.mountinfo.write_text("")
        self.swaps = root / "swaps"
        self.swaps.write_text("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
        self._mount_id = 20

    @property
    def host(self) -> Host:
        return Host(sys_root=str(self.sys), mountinfo=str(self.mountinfo), swaps=str(self.swaps))

    def _link(self, link: Path, target: Path) -> None:
        link.symlink_to(os.path.relpath(target, link.parent))

    def _register(self, name: str, number: str, sysdir: Path) -> None:
        self._link(self.sys / "class/block" / name, sysdir)
        self._link(self.sys / "dev/block" / number, sysdir)
        (sysdir / "dev").write_text(number + "\n")
        (sysdir / "holders").mkdir()

    def add_disk(self, name: str, number: str, size: int, *, at: str | None = None,
                 attrs: dict[str, str | bytes] | None = None,
                 device: dict[str, str | bytes] | None = None,
                 partitions: dict[str, tuple[str, int]] | None = None) -> Path:
        """A disk of `size` bytes at sys/AT (devices/virtual/block/NAME by default). `attrs`
        are files of the disk (queue/rotational ...), `device` files of its device directory
        (the parent of block/, as for SCSI, or the parent itself, as for nvme); `partitions`
        maps name -> (major:minor, size)."""
        sysdir = self.sys / (at or f"devices/virtual/block/{name}")
        sysdir.mkdir(parents=True)
        self._link(self.sys / "block" / name, sysdir)
        self._register(name, number, sysdir)
        files: dict[str, str | bytes] = {"size": str(size // 512), "ro": "0", "removable": "0",
                                         "queue/logical_block_size": "512",
                                         "queue/physical_block_size": "512",
                                         "queue/optimal_io_size": "0", "alignment_offset": "0"}
        files.update(attrs or {})
        for attr, value in files.items():
            _write(sysdir / attr, value)
        if device is not None:
            device_dir = sysdir.parent.parent if sysdir.parent.name == "block" else sysdir.parent
            device_dir.mkdir(parents=True, exist_ok=True)
            self._link(sysdir / "device", device_dir)
            for attr, value in device.items():
                _write(device_dir / attr, value)
        start = 2048
        for index, (part, (part_number, part_size)) in enumerate((partitions or {}).items(), 1):
            partdir = sysdir / part
            partdir.mkdir()
            self._register(part, part_number, partdir)
            for attr, value in {"partition": str(index), "start": str(start),
                                "size": str(part_size // 512)}.items():
                _write(partdir / attr, value)
            start += part_size // 512
        return sysdir

    def hold(self, held: str, holder: str, number: str, size: int, dm_name: str) -> Path:
        """A device-mapper device `holder` built on the disk or partition `held`."""
        held_dir = (self.sys / "class/block" / held).resolve()
        holder_dir = self.add_disk(holder, number, size, attrs={"dm/name": dm_name})
        (holder_dir / "slaves").mkdir()
        self._link(holder_dir / "slaves" / held, held_dir)
        self._link(held_dir / "holders" / holder, holder_dir)
        return holder_dir

    def mount(self, number: str, point: str, source: str, fstype: str = "ext4") -> None:
        self._mount_id += 1
        with self.mountinfo.open("a") as f:
            f.write(f"{self._mount_id} 1 {number} / {point.replace(' ', chr(92) + '040')} "
                    f"rw,relatime shared:1 - {fstype} {source} rw\n")

    def swap_on(self, device: str) -> None:
        with self.swaps.open("a") as f:
            f.write(f"{device}\t\t\t\tpartition\t4194300\t\t0\t\t-2\n")


def _write(path: Path, value: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(value, bytes):
        path.write_bytes(value)
    else:
        path.write_text(value + "\n")
