"""Backing disks up into a set: layout, one archive per filesystem, catalog, manifest."""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import re
import shutil
import socket
import uuid

from ..disks.blockdev import attach_disk, is_block_device, mounted, partition_node
from ..disks.discovery import describe_device
from ..disks.fstab import disk_of_partition_path, matches, parse_fstab, partition_path
from ..disks.partition_table import read_table
from ..disks.probe import RO_OPTIONS, TAR_TYPES, archivable, bytes_used, mkfs_options, probe
from ..disks.writeback import WriteBack
from ..errors import RestoreError
from ..events import Listener, Message, ignore
from ..layout import (
    GPT_BIOS_BOOT,
    GPT_ESP,
    Disk,
    Filesystem,
    LuksContainer,
    Omission,
    Subvolume,
    partition_of,
    partition_place,
    subvolume_catalog_id,
)
from ..questions import ask
from ..questions import passphrase as passphrase_question
from ..units import count
from ..volumes.btrfs import SUBVOLUME_WHY, TOP_LEVEL, read_layout
from ..volumes.luks import close_container, open_container, open_mapping, read_container
from ..volumes.luks import identity as luks_identity
from ..volumes.lvm import activate, deactivate, lv_path, mapper_path, read_groups
from ..volumes.md import read_array, running_array
from .archive import TarProblem, frame_of, write_raw_archive, write_tar_archive
from .catalog import CatalogWriter
from .inodeflags import read_flags
from .manifest import CATALOG, MANIFEST, BackupSet
from .tarscan import Member

log = logging.getLogger("restore_console")
SET_DISK_HINT = ("The disk that receives the set may be failing or full: check the kernel log "
                 "(dmesg) and its free space, then back up to another place.")
ALLOW_OMISSIONS = "--allow-omissions"
SHOWN_PATHS = 5  # in the words of a failed backup; the log has them all
# Why a partition is saved as a raw image although something is on it: a stack the backup
# cannot follow here (blkid's TYPE; its tool missing, or an md array not assembled). The image
# is whole, byte for byte; what is lost is resizing it and restoring it file by file.
STACKS = {
    "LVM2_member": "it is an LVM physical volume, and this system has no lvm tool: its logical "
                   "volumes cannot be resized or restored file by file; a volume group spread "
                   "over more disks needs all of them backed up",
    "linux_raid_member": "it is a member of an md RAID array that is not assembled (or this "
                         "system has no mdadm): the array cannot be resized or restored file "
                         "by file; restore it with every other member of the array",
    "crypto_LUKS": "it is encrypted with LUKS: it is kept encrypted, byte for byte (the same "
                   "passphrase opens it after a restore), as no passphrase opened it here; it "
                   "cannot be resized or restored file by file",
}


def _source_device_name(disk: Disk, number: int) -> str:
    return partition_node(disk.name, number) if disk.name.startswith("/dev/") else f"{disk.name}:{number}"


def _prepare_destination(dest: str) -> None:
    """A complete set (it has a manifest) is never overwritten; the leftovers of an interrupted
    backup (no manifest yet, which is written last) are removed."""
    os.makedirs(dest, exist_ok=True)
    if os.path.exists(os.path.join(dest, MANIFEST)):
        raise RestoreError(f"{dest} already holds a backup set; nothing was overwritten.",
                           "Choose an empty directory, or remove the old set first.")
    for name in os.listdir(dest):
        if name == CATALOG or re.fullmatch(r"(fs|disk)-\d+[-.\w]*\.zst", name):
            os.unlink(os.path.join(dest, name))


class _SourceFacts:
    """What the root filesystem tells about the system: fstab and host name."""

    def __init__(self) -> None:
        self.fstab: list | None = None
        self.host = ""
        self.root_fs: int | None = None  # the filesystem the fstab was read from: the root

    def read(self, root: str) -> None:
        fstab = _read_text(os.path.join(root, "etc/fstab"))
        if fstab is not None:
            self.fstab = parse_fstab(fstab)
            self.host = (_read_text(os.path.join(root, "etc/hostname")) or "").strip()


def _read_text(path: str) -> str | None:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def backup(disks: list[str], dest: str, listener: Listener = ignore,
           allow_omissions: bool = False) -> BackupSet:
    """Writes a set in format v1 to dest from the given block devices or image files.

    Anything it cannot capture fully (a file that changed or could not be read, a btrfs
    subvolume layout it cannot read) stops it with a RestoreError naming it, before any
    manifest is written; with allow_omissions it goes on and records each in the manifest."""
    _prepare_destination(dest)
    backup_set = BackupSet(path=dest, set_id=str(uuid.uuid4()),
                           created=datetime.datetime.now(datetime.timezone.utc).isoformat(
                               timespec="seconds"),
                           host="")
    facts = _SourceFacts()
    catalog = CatalogWriter(os.path.join(dest, CATALOG))
    # The set reaches its disk as it is written, and all of it before the manifest says it is
    # complete: a crash right after "written" must not leave a set that only looks whole.
    write_back = WriteBack(dest, f"the backup set in {dest}", SET_DISK_HINT)
    try:
        tables = []
        for path in disks:
            name = path if is_block_device(path) else os.path.abspath(path)
            tables.append((path, name, read_table(path, name)))
        saved = [(index, p.number) for index, (_, _, disk) in enumerate(tables, start=1)
                 for p in disk.partitions if p.kind != "extended"]
        final = saved[-1] if saved else None
        # Every disk stays attached until its layers (LVM) are read: their PVs are on them.
        with contextlib.ExitStack() as attachments:
            layers = _Layers(attachments)
            for index, (path, name, disk) in enumerate(tables, start=1):
                if is_block_device(path):
                    _record_identity(disk, path)
                backup_set.disks.append(disk)
                listener(Message(f"Disk {name}: {disk.table} table, "
                                 f"{len(disk.partitions)} partitions"))
                spans = [(p.number, p.start, p.size) for p in disk.partitions]
                attached = attachments.enter_context(attach_disk(path, spans, read_only=True))
                if disk.table == "msdos" and disk.partitions:
                    first = min(p.start for p in disk.partitions)
                    disk.boot_area = write_raw_archive(
                        attached.device, first, dest, f"disk-{index}-bootarea.zst",
                        label=f"the boot area of {name}", listener=listener)
                for part in disk.partitions:
                    if part.kind == "extended":
                        continue
                    device = attached.partition(part.number)
                    layer = layers.take(backup_set, disk, part, device, listener)
                    if layer is not None:
                        backup_set.filesystems.append(layer)
                        continue
                    fs = _backup_partition(backup_set, disk, part.number, device, catalog,
                                           facts, listener, (index, part.number) == final,
                                           allow_omissions)
                    backup_set.filesystems.append(fs)
            for fs, device in layers.volumes(backup_set, listener):
                _backup_device(backup_set, fs, device, catalog, facts, listener, False,
                               allow_omissions)
                backup_set.filesystems.append(fs)
    finally:
        catalog.close()
        write_back.finish()
    write_back.check()
    _assign_mountpoints(backup_set, facts)
    backup_set.host = facts.host or socket.gethostname()
    backup_set.bootloader = _detect_bootloader(backup_set)
    backup_set.save()
    if backup_set.omissions:
        log.warning("the set in %s is incomplete: %d left out or may be inconsistent:\n%s",
                    dest, len(backup_set.omissions),
                    "\n".join(o.words for o in backup_set.omissions))
    listener(Message(f"Backup set {backup_set.set_id} written to {dest}"))
    return backup_set


def _record_identity(disk: Disk, path: str) -> None:
    """Model, serial and WWN, so a restore can find the same drive under another name."""
    found = describe_device(path)
    if found is not None:
        disk.model, disk.serial, disk.wwn = found.model, found.serial, found.wwn


class _Layers:
    """The LUKS containers and LVM physical volumes met among the partitions, and then what
    they hold: filesystems in containers, their groups' LVs."""

    def __init__(self, cleanup: contextlib.ExitStack) -> None:
        self.cleanup = cleanup  # closes what the backup opened, after the disks are read
        self.places: dict[str, str] = {}  # PV device -> its place in the set
        self.inside: list[tuple[LuksContainer, str]] = []  # a filesystem in a container
        self.opened: set[str] = set()  # places of the containers this backup opened
        self.members: dict[str, str] = {}  # md member device -> its place
        self.arrays: dict[str, str] = {}  # md array device -> "" (its members in .members)

    def take(self, backup_set: BackupSet, disk: Disk, part, device: str,
             listener: Listener) -> Filesystem | None:
        """The record of a partition that is a PV or a LUKS container (its content comes
        after the partitions); None for any other partition, or when the layer's tool is
        missing (then it is imaged as before)."""
        found = probe(device)
        name = _source_device_name(disk, part.number)
        place = partition_place(disk.name, part.number)
        if found.content == "crypto_LUKS" and shutil.which("cryptsetup") is not None:
            if not self._container(backup_set, device, name, place, part.size, listener):
                return None  # no passphrase: kept encrypted as an image
        elif found.content == "linux_raid_member" and shutil.which("mdadm") is not None:
            array = running_array(device)
            if not array:
                return None  # not assembled: imaged as before (assembling is not done yet)
            self.members[device] = place
            self.arrays[array] = ""
            listener(Message(f"{name}: a member of the md array {array}; the array is saved "
                             "after the partitions"))
        elif found.content == "LVM2_member" and shutil.which("lvm") is not None:
            self.places[device] = place
            listener(Message(f"{name}: an LVM physical volume; its volume group's logical "
                             "volumes are saved after the partitions"))
        else:
            return None
        return Filesystem(id=len(backup_set.filesystems) + 1, disk=disk.name,
                          partition=part.number, device=name, type="", uuid=found.uuid,
                          size=part.size, content=found.content)

    def _container(self, backup_set: BackupSet, device: str, name: str, place: str,
                   size: int, listener: Listener) -> bool:
        """An open container is read through its mapping; a closed one is opened read-only
        with the passphrase asked for (never stored), as luks-UUID, and closed at the end.
        False when no passphrase is given: the caller keeps it as an image."""
        mapping = open_mapping(device)
        if not mapping:
            uuid = luks_identity(device)["uuid"]
            mapping = f"luks-{uuid}"
            try:
                secret = ask(listener, passphrase_question(f"{name} ({uuid})"))
            except RestoreError as exc:
                listener(Message(f"{name}: no passphrase for its LUKS container "
                                 f"({exc.message}): it is kept encrypted as an image"))
                return False
            open_container(device, mapping, secret, read_only=True)
            del secret
            self.cleanup.callback(close_container, mapping)
            self.opened.add(f"luks:{uuid}")
        container = read_container(device, place, mapping, size)
        backup_set.stack.luks.append(container)
        inner = f"/dev/mapper/{mapping}"
        listener(Message(f"{name}: LUKS{container.version} {container.uuid}, open as "
                         f"{mapping}; what it holds is saved after the partitions"))
        if probe(inner).content == "LVM2_member" and shutil.which("lvm") is not None:
            self.places[inner] = container.place
        else:
            self.inside.append((container, inner))
        return True

    def volumes(self, backup_set: BackupSet, listener: Listener
                ) -> list[tuple[Filesystem, str]]:
        """The groups on the PVs met (into the set's stack), each activated, and a record
        for each of their LVs with the device to save it from."""
        found = []
        for device in sorted(self.arrays):
            array = read_array(device, self.members)
            backup_set.stack.arrays.append(array)
            listener(Message(f"md array {device}: {array.level}, metadata {array.metadata}, "
                             f"UUID {array.uuid}, {count(len(array.members), 'member')}"))
            content = probe(device).content
            if content == "LVM2_member" and shutil.which("lvm") is not None:
                self.places[device] = array.place
                continue
            disk = backup_set.stack.partitions_under(array.place)[0][0]
            fs = Filesystem(id=len(backup_set.filesystems) + len(found) + 1, disk=disk,
                            partition=0, device=device, type="", size=array.size,
                            on=array.place)
            found.append((fs, device))
        for container, inner in self.inside:
            disk = partition_of(container.on)[0]
            fs = Filesystem(id=len(backup_set.filesystems) + len(found) + 1, disk=disk,
                            partition=0, device=inner, type="",
                            size=container.size - container.payload_offset, on=container.place)
            found.append((fs, inner))
        if not self.places:
            return found
        groups = read_groups(sorted(self.places), self.places)
        for group in groups:
            strangers = [pv.device for pv in group.pvs if pv.device not in self.places]
            if strangers:
                raise RestoreError(
                    f"Volume group {group.name} also has physical volumes on "
                    f"{', '.join(strangers)}, which are not backed up. No set was written.",
                    "Back up every disk the group spans (give each with --disk).")
            backup_set.stack.volume_groups.append(group)
            activate(group.name)
            if any(pv.on in self.opened for pv in group.pvs):
                self.cleanup.callback(deactivate, group.name)  # before its container closes
            disk = backup_set.stack.partitions_under(group.pvs[0].on)[0][0]
            listener(Message(f"Volume group {group.name}: "
                             f"{count(len(group.lvs), 'logical volume')} on "
                             f"{count(len(group.pvs), 'physical volume')}"))
            for lv in group.lvs:
                if lv.type == "thin-pool":
                    continue  # holds the data of its thin volumes, saved through them
                fs = Filesystem(id=len(backup_set.filesystems) + len(found) + 1, disk=disk,
                                partition=0, device=mapper_path(group.name, lv.name), type="",
                                size=lv.size, on=f"lv:{group.name}/{lv.name}")
                found.append((fs, lv_path(group.name, lv.name)))
        return found


def _backup_partition(backup_set: BackupSet, disk: Disk, number: int, device: str,
                      catalog: CatalogWriter, facts: _SourceFacts, listener: Listener,
                      is_last: bool, allow_omissions: bool) -> Filesystem:
    """Saves one partition; after the last one of the set the catalog is sealed at once, so
    its indexes are built while the filesystem is unmounted."""
    part = disk.partition(number)
    fs = Filesystem(id=len(backup_set.filesystems) + 1, disk=disk.name, partition=number,
                    device=_source_device_name(disk, number), type="", size=part.size)
    return _backup_device(backup_set, fs, device, catalog, facts, listener, is_last,
                          allow_omissions)


def _backup_device(backup_set: BackupSet, fs: Filesystem, device: str,
                   catalog: CatalogWriter, facts: _SourceFacts, listener: Listener,
                   is_last: bool, allow_omissions: bool) -> Filesystem:
    """Saves what is on one device (a partition, an LV) into the record fs, which has its
    id, place, name and size."""
    found = probe(device)
    fs.type, fs.uuid, fs.label = found.type, found.uuid, found.label
    fs.content = found.content if not found.type else ""
    what = "partition" if fs.on_partition else "logical volume"
    label = f"{fs.device} ({found.type or found.content or 'no filesystem'})"
    if found.type == "swap":
        listener(Message(f"{label}: swap, recreated with its UUID and label"))
        return fs
    if archivable(found.type):
        fs.mkfs = mkfs_options(device, found)
        # btrfs from its top level (subvolid=5), whatever its default: every subvolume is
        # below it, each archived on its own.
        options = "ro,subvolid=5" if found.type == "btrfs" else RO_OPTIONS.get(found.type, "ro")
        with mounted(device, found.type, options) as root:
            fs.bytes_used, inodes = bytes_used(root)
            subvolumes = _read_subvolumes(backup_set, fs, root, label, allow_omissions, listener)
            if facts.fstab is None:
                for place in _fstab_places(root, subvolumes):
                    facts.read(place)
                    if facts.fstab is not None:
                        facts.root_fs = fs.id
                        break
            # Sizes are known for the whole filesystem only: with subvolumes, no tree has one.
            whole = (0, 0) if subvolumes else (fs.bytes_used, inodes)
            trees = [(root, fs.id, f"fs-{fs.id}.tar.zst", label, "", *whole)]
            trees += [(os.path.join(root, s.path), s.catalog_id,
                       f"fs-{fs.id}-subvolume-{s.id}.tar.zst", f"{label} subvolume {s.path}",
                       "/" + s.path, 0, 0) for s in subvolumes]
            problems: list[TarProblem] = []
            archives = []
            for where, key, filename, title, prefix, size, files in trees:
                written = write_tar_archive(where, backup_set.path, filename, label=title,
                                            bytes_total=size, files_total=files,
                                            listener=listener)
                problems += [TarProblem(prefix + p.path if p.path != "/" else prefix or "/",
                                        p.what, p.why) for p in written.problems]
                catalog.add(key, written.members, frame_of, _inode_flags(where, written.members))
                archives.append(written.archive)
            _omit(backup_set, fs, label, problems, allow_omissions, listener)
            if is_last:
                catalog.seal()
        fs.archive = archives[0]
        for subvolume, archive in zip(subvolumes, archives[1:]):
            subvolume.archive = archive
        fs.subvolumes = subvolumes
        return fs
    if found.content in STACKS:
        why = STACKS[found.content]
    elif not found.content:
        why = ("blkid finds no filesystem on it: it is kept byte for byte and restored whole, "
               "not file by file")
    elif not found.type:
        why = (f"it holds {found.content}, which is not understood: it is kept byte for byte "
               "and cannot be resized or restored file by file")
    elif found.type in TAR_TYPES:
        why = (f"this kernel cannot mount {found.type}: it is kept byte for byte and cannot be "
               "resized or restored file by file")
    else:
        why = f"{found.type} is kept byte for byte and restored whole"
    listener(Message(f"{label}: saved as a raw image of the whole {what}: {why}"))
    fs.image_reason = why
    fs.bytes_used = fs.size
    fs.archive = write_raw_archive(device, fs.size, backup_set.path, f"fs-{fs.id}.img.zst",
                                   label=label, listener=listener)
    return fs


def _inode_flags(root: str, members: list[Member]) -> dict[bytes, int]:
    """path -> inode flags of the files and directories that have any (tar does not carry
    them). One open each; a file that went away or cannot be opened keeps no flags."""
    base = os.fsencode(root)
    found = {}
    for member in members:
        if member.kind not in ("file", "dir"):
            continue
        try:
            flags = read_flags(base + member.path if member.path != b"/" else base)
        except OSError as exc:
            log.info("no inode flags for %r: %s", member.path, exc)
            continue
        if flags:
            found[member.path] = flags
    return found


def _fstab_places(top: str, subvolumes: list[Subvolume]) -> list[str]:
    """Where a btrfs's /etc/fstab may be, most likely first: the default subvolume (Fedora,
    openSUSE), the top level, then the writable subvolumes that are no snapshot (Ubuntu keeps
    id 5 as the default and / in @), then the others."""
    ranked = sorted(subvolumes, key=lambda s: (not s.default, s.read_only or bool(s.parent_uuid),
                                               s.path.count("/"), s.id))
    places = [os.path.join(top, s.path) for s in ranked]
    return places[:1] + [top] + places[1:] if ranked and ranked[0].default else [top, *places]


def _read_subvolumes(backup_set: BackupSet, fs: Filesystem, top: str, label: str,
                     allow_omissions: bool, listener: Listener) -> list[Subvolume]:
    """The subvolumes of the btrfs mounted at top, each with its catalog key; what cannot be
    read of them stops the backup in words (or, allowed, is recorded) before anything is
    archived. Quotas on are recorded on fs."""
    if fs.type != "btrfs":
        return []
    layout = read_layout(top)
    fs.quota = layout.quota
    _omit(backup_set, fs, label, [TarProblem(path, "left out", why)
                                  for path, why in layout.problems],
          allow_omissions, listener)
    for subvolume in layout.subvolumes:
        subvolume.catalog_id = subvolume_catalog_id(fs.id, subvolume.id)
    if layout.subvolumes:
        flags = [s.path + (" (read-only)" if s.read_only else "")
                 + (" (default)" if s.default else "") for s in layout.subvolumes]
        listener(Message(f"{label}: {count(len(flags), 'subvolume')}: {', '.join(flags)}"
                         + ("; quotas on" if layout.quota else "")))
    return layout.subvolumes


def _named(problems: list[TarProblem]) -> str:
    """The first paths, grouped by what tar said of them: "/a, /b (file changed as we read
    it); /c (Cannot open: Permission denied) and 4 more (in the log)"."""
    shown = problems[:SHOWN_PATHS]
    reasons = list(dict.fromkeys(p.why for p in shown))
    text = "; ".join(", ".join(p.path for p in shown if p.why == why) + f" ({why})"
                     for why in reasons)
    more = len(problems) - len(shown)
    return text + (f" and {more} more (in the log)" if more else "")


def _omit(backup_set: BackupSet, fs: Filesystem, label: str, problems: list[TarProblem],
          allow_omissions: bool, listener: Listener) -> None:
    """Fails the backup naming what it could not capture fully, or, when the operator allowed
    it, records each in the set and says it."""
    if not problems:
        return
    log.warning("%s: not captured fully:\n%s", label,
                "\n".join(f"{p.path}: {p.what} ({p.why})" for p in problems))
    if not allow_omissions:
        layout = any(p.why.startswith(SUBVOLUME_WHY) for p in problems)
        raise RestoreError(
            f"{label}: {count(len(problems), 'path')} could not be captured fully: "
            f"{_named(problems)}. No set was written.",
            ("Add" if layout else "Back up from a rescue system, where nothing changes the "
             "files, and try again, or add")
            + f" {ALLOW_OMISSIONS} to go on and record in the set what it lacks.")
    for problem in problems:
        omission = Omission(fs=fs.id, device=fs.device, path=problem.path, what=problem.what,
                            why=problem.why)
        backup_set.omissions.append(omission)
        listener(Message(f"Not captured fully: {omission.words}"))


def _device_names(backup_set: BackupSet, facts: _SourceFacts) -> dict[int, str]:
    """The device path the source's fstab uses for each filesystem of the root's disk, when it
    names / by one (/dev/sda2): a disk read from an image file was /dev/sda there."""
    root = next((fs for fs in backup_set.filesystems if fs.id == facts.root_fs), None)
    entry = next((e for e in facts.fstab or [] if e.mountpoint == "/"), None)
    disk = (disk_of_partition_path(entry.spec, root.partition)
            if root and entry and root.on_partition else None)
    if disk is None:
        return {}
    return {fs.id: partition_path(disk, fs.partition) for fs in backup_set.filesystems
            if fs.disk == root.disk and fs.on_partition}


def _assign_mountpoints(backup_set: BackupSet, facts: _SourceFacts) -> None:
    if not facts.fstab:
        return
    named = _device_names(backup_set, facts)
    for fs in backup_set.filesystems:
        if fs.on_partition:
            part = next(d for d in backup_set.disks if d.name == fs.disk).partition(fs.partition)
            partuuid, partlabel, names = part.partuuid, part.name, [named.get(fs.id, fs.device)]
        elif fs.on.startswith("lv:"):  # fstab names it /dev/mapper/vg0-root or /dev/vg0/root
            vg, _, lv = fs.on.removeprefix("lv:").partition("/")
            partuuid, partlabel, names = "", "", [fs.device, lv_path(vg, lv)]
        else:  # in a LUKS container (/dev/mapper/NAME) or an md array (/dev/md0)
            partuuid, partlabel, names = "", "", [fs.device]
        entries = [entry for entry in facts.fstab
                   if any(matches(entry.spec, uuid=fs.uuid, label=fs.label, partuuid=partuuid,
                                  partlabel=partlabel, device=name) for name in names)
                   and entry.mountpoint not in ("none", "swap")]
        if fs.subvolumes:
            _assign_subvolume_mountpoints(fs, entries)
        elif entries:
            fs.mountpoint = entries[0].mountpoint


def _assign_subvolume_mountpoints(fs: Filesystem, entries: list) -> None:
    """Each fstab entry of a btrfs mounts one subvolume: subvol=PATH, subvolid=ID, or the
    default one; the top level (id 5) is fs's own mount point. A subvolume that fstab does not
    mount but that sits inside a mounted one shows there (@/var/lib/machines at
    /var/lib/machines when @ is at /)."""
    default = next((s for s in fs.subvolumes if s.default), None)
    for entry in entries:
        path, key = entry.option("subvol"), entry.option("subvolid")
        if path is not None:
            chosen = next((s for s in fs.subvolumes if s.path == path.strip("/")), None)
            top = path.strip("/") == ""
        elif key is not None and key.isdigit():
            chosen = next((s for s in fs.subvolumes if s.id == int(key)), None)
            top = int(key) == TOP_LEVEL
        else:
            chosen, top = default, default is None
        if chosen is not None and not chosen.mountpoint:
            chosen.mountpoint = entry.mountpoint
        elif top and not fs.mountpoint:
            fs.mountpoint = entry.mountpoint
    for subvolume in sorted(fs.subvolumes, key=lambda s: s.path.count("/")):
        if subvolume.mountpoint:
            continue
        holders = [s for s in fs.subvolumes if s.mountpoint
                   and subvolume.path.startswith(s.path + "/")]
        holder = max(holders, key=lambda s: len(s.path), default=None)
        if holder is not None:
            rest = subvolume.path[len(holder.path):]
            subvolume.mountpoint = holder.mountpoint.rstrip("/") + rest
        elif fs.mountpoint:
            subvolume.mountpoint = fs.mountpoint.rstrip("/") + "/" + subvolume.path


def _detect_bootloader(backup_set: BackupSet) -> dict:
    """Which boot loader the source used, as far as the layout shows it."""
    for disk in backup_set.disks:
        for part in disk.partitions:
            if part.type_uuid == GPT_ESP or part.type_id == 0xEF or "esp" in part.flags:
                return {"kind": "efi", "disk": disk.name, "partition": part.number}
    for disk in backup_set.disks:
        for part in disk.partitions:
            if part.type_uuid == GPT_BIOS_BOOT or "bios_grub" in part.flags:
                return {"kind": "grub-bios", "disk": disk.name, "partition": part.number}
        if disk.boot_area is not None:
            return {"kind": "bios-mbr", "disk": disk.name}
    return {"kind": "none"}

