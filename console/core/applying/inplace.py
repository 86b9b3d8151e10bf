"""Restoring a selection in place: back onto the set's filesystems as they are on this machine's
disks (restored earlier, or the original disks still present).

The classic disaster is the wrong disk: device names change between boots, and /dev/sdb today
may be yesterday's /dev/sda. So nothing is written before every filesystem that holds selected
files has been found on its target partition (the table read from the target itself, the
superblock probed with blkid): its type and UUID must be the set's. A full restore keeps the
UUIDs, so a restored target and the original disk both pass; anything else is refused in words,
naming the device, what it holds and what was expected. The safety rules (not mounted, not
holding the set or the running system) are checked as for a full restore.

Each filesystem that holds selected files is then mounted read-write on its own, not nested
under /, and its selection restored into its root. Only those filesystems are checked, mounted
and touched; and a selected directory that is a mount point on the original machine (/srv/data
selected on /) gets its metadata on the parent filesystem, where it belongs, not on the
filesystem mounted over it.

Finding the target without being told: every disk of this machine (block devices, loop devices
included; image files only when named) is read, and a disk is a candidate for an original disk
when it holds that disk's filesystems, each at its partition number with the set's type and
UUID.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ..backupset.catalog import Catalog
from ..backupset.manifest import BackupSet
from ..backupset.selection import Selection
from ..cancel import CancelToken
from ..disks.blockdev import attach_disk, mounted
from ..disks.discovery import TargetDisk, discover_targets
from ..disks.partition_table import read_table
from ..disks.probe import probe
from ..disks.safety import check_target
from ..disks.sysblock import Host
from ..disks.writeback import written_out
from ..errors import RestoreError
from ..events import Listener, Message, ignore
from ..layout import Filesystem, mount_order
from ..system import run
from ..units import count, size
from .existing import Existing, existing_at
from .partial import SelectionResult, check_restorable, restore_into_roots
from .targetroot import READ_ONLY_OPTIONS, READ_WRITE_OPTIONS

TOOLS = ("sfdisk",)  # run here; the rescue image carries them

# Places offered to choose from: more combinations of candidate disks than this are not listed.
MAX_PLACES = 20


@dataclass(frozen=True)
class FoundPartition:
    """A partition of a target and the filesystem blkid finds on it ("" when none)."""

    number: int
    start: int  # bytes
    size: int  # bytes
    type: str = ""
    uuid: str = ""
    label: str = ""


def read_partitions(target: str) -> list[FoundPartition] | None:
    """The partitions of a disk or image file with what each holds, reading only (sfdisk
    --json, blkid -p at each partition's offset: nothing is attached). None: no table."""
    proc = run(["sfdisk", "--json", target], f"read the partition table of {target}",
               check=False)
    if proc.returncode != 0:
        return None
    try:
        table = json.loads(proc.stdout)["partitiontable"]
    except (ValueError, KeyError):
        return None
    sector = int(table.get("sectorsize", 512))
    found = []
    for part in table.get("partitions", []):
        node = part["node"]
        digits = len(node) - len(node.rstrip("0123456789"))
        if not digits:
            continue
        start, size = int(part["start"]) * sector, int(part["size"]) * sector
        what = probe(target, offset=start, size=size)
        found.append(FoundPartition(int(node[-digits:]), start, size, what.type, what.uuid,
                                    what.label))
    return found


def fs_words(fs: Filesystem) -> str:
    """fs-2 (ext4 /, UUID 0b6a...): how an error names a filesystem of the set."""
    where = f" {fs.mountpoint}" if fs.mountpoint else (f" label {fs.label}" if fs.label else "")
    return f"fs-{fs.id} ({fs.type or 'raw'}{where}, UUID {fs.uuid or 'unknown'})"


def found_words(found: FoundPartition) -> str:
    if not found.type:
        return "no filesystem blkid recognizes"
    return f"{found.type}" + (f", UUID {found.uuid}" if found.uuid else ", no UUID")


def holds(fs: Filesystem, found: FoundPartition | None) -> bool:
    """Whether the partition is that filesystem of the set: same type, same UUID."""
    return (found is not None and bool(fs.uuid) and found.type == fs.type
            and found.uuid.lower() == fs.uuid.lower())


def identity_problem(fs: Filesystem, target: str,
                     partitions: list[FoundPartition] | None) -> RestoreError | None:
    """Why target's partition fs.partition is not filesystem fs of the set; None when it is."""
    hint = ("Device names can change between boots: choose the disk that holds this "
            "filesystem, or restore into a directory instead.")
    if not fs.uuid:
        return RestoreError(f"The set has no UUID for {fs_words(fs)}, so its partition on "
                            f"{target} cannot be told from another. Nothing was written.",
                            "Restore into a directory instead.")
    if partitions is None:
        return RestoreError(f"{target} has no partition table that can be read, so it does not "
                            f"hold {fs_words(fs)}. Nothing was written.", hint)
    found = next((p for p in partitions if p.number == fs.partition), None)
    if found is None:
        return RestoreError(f"{target} has no partition {fs.partition}, where {fs_words(fs)} "
                            "should be. Nothing was written.", hint)
    if not holds(fs, found):
        return RestoreError(f"Partition {fs.partition} of {target} holds {found_words(found)}, "
                            f"not {fs_words(fs)} of the set. Nothing was written.", hint)
    return None


# ---- what a restore in place will do ----

@dataclass
class InPlaceItem:
    """One filesystem of the selection and where it is on this machine."""

    fs: Filesystem
    selection: Selection
    target: str
    partition: FoundPartition
    entries: int = 0
    bytes: int = 0

    def where(self) -> str:
        return f"{self.fs.title} on {self.target}, partition {self.partition.number}"


@dataclass
class InPlacePlan:
    items: list[InPlaceItem] = field(default_factory=list)

    @property
    def targets(self) -> list[str]:
        return list(dict.fromkeys(item.target for item in self.items))

    def render(self, existing: str = "overwrite") -> str:
        lines = ["Restore in place: the selected files go back onto these filesystems, found "
                 "by type and UUID:"]
        for item in self.items:
            lines.append(f"  {fs_words(item.fs)}: {count(item.entries, 'entry')}, "
                         f"{size(item.bytes)}")
            lines.append(f"    onto partition {item.partition.number} of {item.target}")
        policy = {"overwrite": "overwritten", "skip": "left as they are",
                  "newer": "kept where newer than the set's"}.get(existing, existing)
        lines.append(f"Files already there are {policy}; nothing else on the disks is touched.")
        return "\n".join(lines)


def plan_in_place(backup_set: BackupSet, selections: Sequence[Selection],
                  mapping: dict[str, str], *, host: Host | None = None) -> InPlacePlan:
    """Checks everything that can be checked without writing (the safety rules for each target,
    the identity of each filesystem holding selected files) and says what will be restored
    where. Raises RestoreError, in words, on the first problem."""
    host = host or Host()
    chosen = [(backup_set.filesystem(s.fs), s) for s in selections if s]
    if not chosen:
        raise RestoreError("Nothing is selected.", "Select files to restore first.")
    order = {fs.id: n for n, fs in enumerate(mount_order([fs for fs, _ in chosen]))}
    chosen.sort(key=lambda pair: (order.get(pair[0].id, len(order)), pair[0].id))
    for fs, _ in chosen:
        check_restorable(fs)
        if not mapping.get(fs.disk):
            raise RestoreError(f"No target is given for {fs.disk}, the disk that held "
                               f"{fs_words(fs)}. Nothing was written.",
                               f"Name the disk that holds it now (--map {fs.disk}=TARGET).")
    plan = InPlacePlan()
    tables: dict[str, list[FoundPartition] | None] = {}
    with Catalog(backup_set.catalog_path) as catalog:
        for fs, selection in chosen:
            target = mapping[fs.disk]
            if target not in tables:
                check_target(target, backup_set.medium.where, host)
                tables[target] = read_partitions(target)
            problem = identity_problem(fs, target, tables[target])
            if problem is not None:
                raise problem
            found = next(p for p in tables[target] if p.number == fs.partition)
            totals = selection.totals(catalog)
            plan.items.append(InPlaceItem(fs, selection, target, found, totals.entries,
                                          totals.bytes))
    return plan


def _attached_partitions(stack: contextlib.ExitStack, items, *, read_only: bool) -> list[str]:
    """The partition device of each item, its target disk attached once (let go with the
    stack)."""
    attached = {}
    devices = []
    for item in items:
        if item.target not in attached:
            layout = read_table(item.target, item.target)
            spans = [(p.number, p.start, p.size) for p in layout.partitions]
            attached[item.target] = stack.enter_context(
                attach_disk(item.target, spans, read_only=read_only))
        devices.append(attached[item.target].partition(item.fs.partition))
    return devices


def restore_in_place(backup_set: BackupSet, selections: Sequence[Selection],
                     mapping: dict[str, str], *, existing: str = "overwrite",
                     listener: Listener = ignore, host: Host | None = None,
                     cancel: CancelToken | None = None) -> SelectionResult:
    """Restores the selection onto the set's filesystems on the mapped targets (original disk
    name -> block device or image file), each file at its original path.

    Checked right before writing: the safety rules and each filesystem's type and UUID, once on
    the target's table and once more on the very device about to be mounted. Everything that
    was attached and mounted is let go again, also on failure."""
    plan = plan_in_place(backup_set, selections, mapping, host=host)
    with contextlib.ExitStack() as stack:
        devices = _attached_partitions(stack, plan.items, read_only=False)
        # Every device is checked before the first read-write mount (a mount writes too).
        for item, device in zip(plan.items, devices):
            what = probe(device)
            found = FoundPartition(item.fs.partition, 0, 0, what.type, what.uuid, what.label)
            if not holds(item.fs, found):
                raise RestoreError(f"{device} (partition {item.fs.partition} of {item.target}) "
                                   f"holds {found_words(found)}, not {fs_words(item.fs)}. "
                                   "Nothing was written.",
                                   "The disk changed while it was being checked; check it "
                                   "from the shell, then try again.")
        roots: list[tuple[Selection, str, str]] = []
        for item, device in zip(plan.items, devices):
            listener(Message(f"Mounting {item.fs.title} from {device} (read-write)"))
            options = [READ_WRITE_OPTIONS.get(item.fs.type, ""), item.fs.subvolume_option]
            where = stack.enter_context(
                mounted(device, item.fs.type, ",".join(o for o in options if o)))
            roots.append((item.selection, where, device))
        result = restore_into_roots(backup_set, roots, existing=existing, listener=listener,
                                    cancel=cancel)
        for item, (_, where, _) in zip(plan.items, roots):  # umount does not report an error
            written_out(where, f"the restored {item.fs.title}")
    result.destinations = [item.where() for item in plan.items]
    return result


def existing_in_place(backup_set: BackupSet, selections: Sequence[Selection],
                      mapping: dict[str, str], *, host: Host | None = None) -> Existing:
    """What restoring the selection in place would replace: each filesystem holding selected
    files is checked as for the restore (plan_in_place), then mounted read-only, journal not
    replayed, and looked at; paths are shown as on the original machine."""
    plan = plan_in_place(backup_set, selections, mapping, host=host)
    found = Existing()
    with contextlib.ExitStack() as stack, Catalog(backup_set.catalog_path) as catalog:
        devices = _attached_partitions(stack, plan.items, read_only=True)
        for item, device in zip(plan.items, devices):
            options = [READ_ONLY_OPTIONS.get(item.fs.type, "ro"), item.fs.subvolume_option]
            with mounted(device, item.fs.type, ",".join(o for o in options if o)) as root:
                shown = item.fs.mountpoint if item.fs.mountpoint.startswith("/") \
                    else f"fs-{item.fs.id}:"
                found.add(existing_at(catalog, item.selection, root, shown))
    return found


# ---- finding the targets ----

@dataclass
class Candidate:
    """A disk of this machine that holds filesystems of one original disk of the set."""

    source: str  # the original disk, as the set names it
    target: str  # /dev/sdb, /dev/loop5, or an image file
    name: str  # sdb, loop5, disk.img
    title: str  # discovery's words: size, model, serial, backing file
    filesystems: list[int]  # the set's filesystems found on it (type and UUID at their number)
    problems: list[str] = field(default_factory=list)  # why writing there is unsafe

    def words(self) -> str:
        return self.title + (f" (not usable: {'; '.join(self.problems)})"
                             if self.problems else "")


def candidates_from(backup_set: BackupSet,
                    disks: Iterable[tuple[TargetDisk, list[FoundPartition] | None]]
                    ) -> list[Candidate]:
    """The candidates among disks, each given with its partitions: for each original disk,
    the disks that hold at least one of its file-by-file filesystems."""
    candidates = []
    for disk, partitions in disks:
        if partitions is None:
            continue
        by_number = {p.number: p for p in partitions}
        for source in backup_set.disks:
            found = [fs.id for fs in backup_set.filesystems_on(source.name)
                     if fs.archive is not None and fs.archive.kind == "tar"
                     and holds(fs, by_number.get(fs.partition))]
            if found:
                candidates.append(Candidate(source.name, disk.path, disk.name, disk.title(),
                                            found, list(disk.problems())))
    return candidates


def find_candidates(backup_set: BackupSet, disks: Iterable[TargetDisk]) -> list[Candidate]:
    """The disks (as discovery lists them) holding filesystems of the set."""
    return candidates_from(backup_set, ((disk, read_partitions(disk.path)) for disk in disks))


def choose_mapping(backup_set: BackupSet, selections: Sequence[Selection],
                   candidates: list[Candidate]) -> dict[str, Candidate]:
    """For each original disk holding selected files, the one candidate holding all of its
    filesystems with selected files. Refuses in words when there is none, or several."""
    needed: dict[str, list[Filesystem]] = {}
    for selection in selections:
        if selection:
            fs = backup_set.filesystem(selection.fs)
            needed.setdefault(fs.disk, []).append(fs)
    chosen = {}
    for source, filesystems in needed.items():
        ids = {fs.id for fs in filesystems}
        mine = [c for c in candidates if c.source == source]
        full = [c for c in mine if ids <= set(c.filesystems)]
        if len(full) == 1:
            chosen[source] = full[0]
            continue
        if len(full) > 1:
            listed = "; ".join(f"{c.target}: {c.words()}" for c in full)
            raise RestoreError(f"The filesystems of {source} with selected files "
                               f"({', '.join(fs_words(fs) for fs in filesystems)}) are on "
                               f"{len(full)} disks of this machine: {listed}.",
                               f"Name the one to restore onto with --map {source}=TARGET.")
        for fs in filesystems:
            if not any(fs.id in c.filesystems for c in mine):
                raise RestoreError(f"No disk of this machine holds {fs_words(fs)}.",
                                   f"Give its target with --map {source}=TARGET (image files "
                                   "are not searched: name them so), or restore into a "
                                   "directory with --into DIR.")
        where = "; ".join(f"{fs_words(fs)} on "
                          + ", ".join(c.target for c in mine if fs.id in c.filesystems)
                          for fs in filesystems)
        raise RestoreError(f"No single disk of this machine holds all the filesystems of "
                           f"{source} with selected files: {where}.",
                           f"Name the disk to restore onto with --map {source}=TARGET.")
    return chosen


def find_mapping(backup_set: BackupSet, selections: Sequence[Selection]) -> dict[str, Candidate]:
    """choose_mapping over this machine's disks (image files are not searched)."""
    disks = discover_targets(backup_set.medium.where)
    return choose_mapping(backup_set, selections, find_candidates(backup_set, disks))


# ---- the places the console offers ----

@dataclass
class Place:
    """Where selected files can go back to: original disk name -> target, and its words."""

    mapping: dict[str, str]
    title: str  # sdb (as /dev/sda)
    problems: list[str] = field(default_factory=list)
    note: str = ""  # how it was found, when that helps choosing: "just restored"


def places_from(backup_set: BackupSet, candidates: list[Candidate]) -> list[Place]:
    """Each way of putting the original disks' filesystems back: one candidate per original
    disk that has any (the first MAX_PLACES combinations)."""
    by_source = [[c for c in candidates if c.source == disk.name] for disk in backup_set.disks]
    by_source = [group for group in by_source if group]
    places = []
    for combination in itertools.islice(itertools.product(*by_source), MAX_PLACES):
        if not combination:
            continue
        places.append(Place({c.source: c.target for c in combination},
                            ", ".join(f"{c.name} (as {_short(c.source)})" for c in combination),
                            [p for c in combination for p in c.problems]))
    return places


def _short(source: str) -> str:
    """An original disk as a title names it: /dev/sda as it is, an image file by its name."""
    return source if source.startswith("/dev/") else os.path.basename(source)


def find_places(backup_set: BackupSet, disks: Iterable[TargetDisk]) -> list[Place]:
    """The places on the disks (as discovery lists them)."""
    return places_from(backup_set, find_candidates(backup_set, disks))


def place_for_mapping(mapping: dict[str, str], note: str = "") -> Place:
    """A place from a known mapping, such as the one restored just before."""
    names = ", ".join(f"{os.path.basename(target)} (as {_short(source)})"
                      for source, target in mapping.items())
    return Place(dict(mapping), names, note=note)
