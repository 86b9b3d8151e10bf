"""The restored system mounted under one root: for verification, and for the expert shell.

The filesystems of the set are found on the targets by partition number, with the table read
from the target itself (so a re-planned layout is found where it is), and mounted parents first.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator

from ..backupset.manifest import BackupSet, load_set
from ..disks.blockdev import attach_disk, mounted
from ..disks.partition_table import read_table
from ..events import Listener, Message, ignore
from ..layout import Filesystem, mount_order
from .verify import VerifyResult, verify

# Read-only mounts must not replay a journal (that writes); xfs refuses a duplicate UUID.
READ_ONLY_OPTIONS = {"ext2": "ro", "ext3": "ro,noload", "ext4": "ro,noload",
              "xfs": "ro,norecovery,nouuid"}
# Read-write: the restored xfs has the original's UUID, and xfs refuses a second one mounted.
READ_WRITE_OPTIONS = {"xfs": "nouuid"}


@contextlib.contextmanager
def mounted_targets(backup_set: BackupSet, mapping: dict[str, str], *, read_only: bool = True,
                    listener: Listener = ignore) -> Iterator[str]:
    """Mounts the restored filesystems with a mount point, / first, under a fresh directory."""
    chosen = [fs for fs in backup_set.filesystems
              if fs.disk in mapping and fs.archive is not None and fs.archive.kind == "tar"]
    with contextlib.ExitStack() as stack:
        root = tempfile.mkdtemp(prefix="restore-console-root-")
        stack.callback(os.rmdir, root)
        attached = {}
        for src in {fs.disk for fs in chosen}:
            target = mapping[src]
            layout = read_table(target, target)
            spans = [(p.number, p.start, p.size) for p in layout.partitions]
            attached[src] = stack.enter_context(attach_disk(target, spans, read_only=read_only))
        for point, fs, option in _mounts(chosen):
            where = os.path.join(root, point.lstrip("/"))
            options = ",".join(o for o in (READ_ONLY_OPTIONS.get(fs.type, "ro") if read_only
                                           else READ_WRITE_OPTIONS.get(fs.type, ""), option) if o)
            listener(Message(f"Mounting {fs.title} from {mapping[fs.disk]}"
                             + (f" ({option})" if option else "")))
            if not os.path.isdir(where):
                if read_only:
                    continue  # the parent's archive lacks the mount point: verify says so
                os.makedirs(where)
            stack.enter_context(mounted(attached[fs.disk].partition(fs.partition), fs.type,
                                        options, where=where))
        yield root


def _mounts(chosen: list[Filesystem]) -> list[tuple[str, Filesystem, str]]:
    """(mount point, filesystem, subvolume option) of each mount, parents first: a btrfs with
    subvolumes is mounted once per subvolume the machine had somewhere (subvol=/@ at /)."""
    found = []
    for fs in mount_order(chosen):
        if not fs.subvolumes:
            found.append((fs.mountpoint, fs, ""))
            continue
        if fs.mountpoint:
            found.append((fs.mountpoint, fs, "subvolid=5"))
        found += [(s.mountpoint, fs, f"subvol=/{s.path}") for s in fs.subvolumes
                  if s.mountpoint.startswith("/")]
    return sorted(found, key=lambda m: (m[0].rstrip("/").count("/"), m[0]))


def verify_targets(set_path: str, mapping: dict[str, str],
                   listener: Listener = ignore) -> VerifyResult:
    """Compares the restored disks (mounted read-only) with the set."""
    backup_set = load_set(set_path)
    with mounted_targets(backup_set, mapping, listener=listener) as root:
        listener(Message("Comparing the restored system with the set"))
        return verify(set_path, root, listener)
