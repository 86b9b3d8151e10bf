"""Applying a plan: tables, filesystems, mounts, extraction with verification.

Everything that can be known before writing is checked before the first write: the plan's set,
the pieces (present, complete, BLAKE3), that each target is still the planned disk, and the
safety of every target, which is checked once more right before its first write.

An interrupted restore of the same plan resumes (journal.py records what is durably done):
the partition tables and the filesystems it finished are kept when the disks still show them,
every filesystem is mounted and verified again, the rest is done as the first time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ..backupset.archive import extract_raw_archive, extract_tar_archive
from ..backupset.catalog import Catalog
from ..backupset.manifest import BackupSet, check_pieces, load_set
from ..backupset.seekable import SeekableReader
from ..cancel import CancelToken, stop_if_cancelled
from ..disks.blockdev import AttachedDisk, attach_disk, device_size, is_block_device, mounted
from ..disks.discovery import describe_device
from ..disks.mkfs import make_filesystem
from ..disks.partition_table import create_partition, create_table, set_identifiers
from ..disks.probe import probe
from ..disks.safety import check_target
from ..disks.writeback import WriteBack
from ..errors import Cancelled, RestoreError
from ..events import Listener, Message, Progress, StepStarted, ignore
from ..layout import Disk, Filesystem
from ..planning.plan import DiskPlan, Plan, describe_step
from ..planning.steps import (
    CreateArray,
    CreateLuks,
    CreatePartition,
    CreatePhysicalVolume,
    CreateTable,
    CreateVolumeGroup,
    Finalize,
    InstallBootLoader,
    MakeFilesystem,
    Mount,
    RebuildInitramfs,
    Restore,
    RewriteReferences,
    SetIdentifiers,
    Step,
    Verify,
    Wipe,
    WriteBootArea,
    WriteImage,
)
from ..questions import RETRY, SKIP, ask, passphrase, step_failed
from ..system import run
from ..units import count, entries_and_data, exact_size, size
from ..volumes.btrfs import create_subvolumes, creation_order, finish_subvolumes
from ..volumes.luks import close_container, format_container, open_container
from ..volumes.md import create_array, stop_array
from ..volumes.lvm import (
    activate,
    create_physical_volume,
    deactivate,
    group_metadata,
    lv_path,
    restore_group,
)
from .chroot import system_mounts
from .finalize import (
    GRUB_DIRECTORY,
    RestoredFilesystem,
    check_fstab,
    copy_log_and_plan,
    initramfs_files,
    install_grub,
    known_for,
    read_restored,
    rebuild_initramfs,
    references_for,
    rewrite_references,
)
from .flags import flag_differences, restore_flags
from .journal import RESTORED, WRITTEN, Journal, check_disks, journals_on
from .journal import load as load_journal
from .liveverify import LiveVerify
from .ondisk import TreeOfFs
from .verify import Difference, VerifyResult, check_filesystem

TOOLS = ("wipefs",)  # run here; the rescue image carries them

log = logging.getLogger("restore_console")

MAX_NAMED_FILES = 10
# The restored xfs has the original's UUID; xfs refuses a second mount of a UUID otherwise.
_TARGET_OPTIONS = {"xfs": "nouuid"}


@dataclass
class RestoreResult:
    entries: int = 0  # restored from archives: files, directories, links, devices
    bytes: int = 0  # file data: the sizes of the regular files restored
    images: int = 0  # filesystems written as raw images
    image_bytes: int = 0
    seconds: float = 0.0
    verified: int = 0  # entries whose kind, owner, mode, times and links were checked
    covered: int = 0  # entries not checked: mount points, under the filesystem mounted there
    filesystems: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)  # filesystems an interrupted run restored
    skipped: list[str] = field(default_factory=list)  # steps that failed and were skipped
    changes: list[str] = field(default_factory=list)  # references rewritten, one line each
    boot: list[str] = field(default_factory=list)  # what the finalize did to make it boot
    log_copy: str = ""  # where the log and the plan went in the restored system
    # Paths of the restored system the finalize changed (files, or directories with all
    # below): they differ from the set on purpose.
    finalized: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """535 entries (1.2 GiB of file data) and 1 filesystem image (512.0 MiB)."""
        words = entries_and_data(self.entries, self.bytes)
        if self.images:
            words += f" and {count(self.images, 'filesystem image')} ({size(self.image_bytes)})"
        return words


def _damaged_files(backup_set: BackupSet, fs: Filesystem) -> list[bytes]:
    """Paths of the members in frames that fail to decompress (zstd checks each frame)."""
    damaged: list[bytes] = []
    piece = fs.archive.pieces[0]
    reader = SeekableReader(backup_set.piece_path(piece), piece.file)
    with reader, Catalog(backup_set.catalog_path) as catalog:
        for frame in reader.frames:
            try:
                next(reader.iter_frames(frame.index, frame.index + 1, threads=1))
            except RestoreError:
                start, end = frame.d_offset, frame.d_offset + frame.d_size
                damaged += catalog.paths_overlapping(fs.id, start, end)
    return damaged


def _describe(paths: list[bytes]) -> str:
    shown = ", ".join(os.fsdecode(p) for p in paths[:MAX_NAMED_FILES])
    more = len(paths) - MAX_NAMED_FILES
    return shown + (f" and {more} more" if more > 0 else "")


def check_archives(backup_set: BackupSet, filesystems: list[Filesystem]) -> None:
    """Every piece present, complete and with its BLAKE3; names the files a bad piece affects."""
    trees = [tree for fs in filesystems
             for tree in [fs, *(fs.subvolume_view(s) for s in fs.subvolumes)]]
    for fs in trees:
        if fs.archive is None:
            continue
        bad = check_pieces(backup_set, fs.archive, f"filesystem {fs.id} ({fs.title})")
        if not bad:
            continue
        files = _damaged_files(backup_set, fs) if fs.archive.kind == "tar" else []
        affected = (f"affected files: {_describe(files)}" if files
                    else "the damage cannot be narrowed to single files")
        raise RestoreError(
            f"The archive {bad[0].file} of filesystem {fs.id} ({fs.title}) does not match its "
            f"BLAKE3 checksum; {affected}. Nothing was written.",
            "Use another copy of the set, or restore the other filesystems from the shell.")


class _ExpectedHashes:
    """The catalog's BLAKE3 for members in stream order, read alongside the stream."""

    def __init__(self, catalog: Catalog, fs_id: int):
        self._rows = catalog.hashes_in_order(fs_id)
        self._current: tuple[int, bytes | None] = (-1, None)

    def __call__(self, offset: int) -> bytes | None:
        while self._current[0] < offset:
            row = next(self._rows, None)
            if row is None:
                return None
            self._current = row
        return self._current[1] if self._current[0] == offset else None


def apply_plan(plan: Plan, listener: Listener = ignore,
               cancel: CancelToken | None = None) -> RestoreResult:
    """Carries out the plan's steps in order; unmounts and detaches everything, also on failure.

    Before the first step: the set is the planned one, its pieces are intact, and every target
    is safe and still the disk that was planned. Right before the first write to each disk,
    its safety is checked again. Once `cancel` is set, it stops at the next safe point (between
    steps, between an archive's frames) and raises Cancelled saying what state the targets are
    in; the journal is kept, so running the plan again resumes."""
    started = time.monotonic()
    backup_set = load_set(plan.set_path, listener)
    if backup_set.set_id != plan.set_id:
        raise RestoreError(f"The set at {plan.set_path} is {backup_set.set_id}, but the plan was "
                           f"made for {plan.set_id}. Nothing was written.",
                           "Make the plan again for this set.")
    chosen = _as_planned(plan, [fs for fs in backup_set.filesystems if fs.id in plan.filesystems])
    listener(Message("Checking the archives (presence, size, BLAKE3)" if backup_set.read_from
                     is None else f"The archives on {plan.set_path} are checked (size, BLAKE3) "
                                  "as they are read"))
    check_archives(backup_set, chosen)
    for disk in plan.disks:
        boot_area = backup_set.disk(disk.source).boot_area
        what = f"the boot area of {disk.source}"
        if boot_area is not None and check_pieces(backup_set, boot_area, what):
            raise RestoreError(f"The archive of {what} does not match its BLAKE3 checksum. "
                               "Nothing was written.", "Use another copy of the set.")
    for disk in plan.disks:
        _check_still_planned(disk)
        check_target(disk.target.path, plan.set_path)
    secrets = _passphrases(plan, listener)
    journal = _resume_point(plan, chosen, listener)
    resumed = _Resumed(plan, journal)
    if not journal.empty:
        listener(Message(resumed.describe(backup_set.filesystems, journal.started_at)))
    journal.save()
    if not journal.writable:
        listener(Message(f"The restore journal cannot be written in {journal.path} (the log "
                         "says why): if this restore is interrupted, it starts over."))
    last_table_step = {step.target: index for index, step in enumerate(plan.steps)
                       if isinstance(step, _TABLE_STEPS)}
    begun: list[Step] = []  # the steps this run started, done or not
    finished = 0  # how many of them ended
    try:
        # Unwinding this stack on a cancel unmounts and detaches, then the state is told.
        with contextlib.ExitStack() as stack:
            applier = _Applier(plan, backup_set, listener, stack, journal, cancel)
            applier.passphrases, secrets = secrets, {}
            for index, step in enumerate(plan.steps):
                stop_if_cancelled(cancel)
                skipped = resumed.skips(step)
                text = describe_step(plan, step) + (" (already done: skipped)" if skipped
                                                    else "")
                listener(StepStarted(index + 1, len(plan.steps), text))
                log.info("step %d/%d: %s %s %s%s", index + 1, len(plan.steps), step.action,
                         step.target, step.detail(), " (skipped: done before)" if skipped else "")
                if not skipped:
                    begun.append(step)
                if (not skipped and _run_asking(applier, plan, index, step, listener)
                        and last_table_step.get(step.target) == index):
                    applier.tables_written(step.target)
                finished = len(begun)
            result = applier.result
    except Cancelled:
        raise _cancelled(plan, backup_set.filesystems, journal, begun,
                         finished == len(begun)) from None
    journal.delete()
    titles = {fs.id: fs.title for fs in backup_set.filesystems}
    result.resumed = [titles[fs_id] for fs_id in sorted(resumed.done)]
    result.filesystems += [t for t in result.resumed if t not in result.filesystems]
    result.unmapped = list(plan.unmapped)
    result.seconds = time.monotonic() - started
    return result


def _passphrases(plan: Plan, listener: Listener) -> dict[str, str]:
    """The passphrase of each LUKS container the plan makes, asked before anything is
    written; kept in memory only, never logged nor saved."""
    found = {}
    for step in plan.steps:
        if not isinstance(step, CreateLuks) or step.uuid in found:
            continue
        try:
            value = ask(listener, passphrase(f"{step.name} ({step.uuid})"))
        except RestoreError as exc:
            raise RestoreError(f"No passphrase was given for the LUKS container {step.name} "
                               f"({step.uuid}), which the plan makes again: {exc.message} "
                               "Nothing was written.",
                               "Run the restore on a terminal to type it, or give "
                               "--passphrase-file FILE.") from None
        if not value:
            raise RestoreError(f"The passphrase for the LUKS container {step.name} is empty. "
                               "Nothing was written.", "Give its passphrase.")
        found[step.uuid] = value
    return found


def _as_planned(plan: Plan, filesystems: list[Filesystem]) -> list[Filesystem]:
    """The filesystems with the UUIDs the plan makes them with (a new one: --new-uuids)."""
    made = {s.fs: s.uuid for s in plan.steps if isinstance(s, MakeFilesystem)}
    return [replace(fs, uuid=made[fs.id]) if made.get(fs.id, fs.uuid) != fs.uuid else fs
            for fs in filesystems]


# What skipping a step leaves undone, for the steps that can be skipped: nothing later depends
# on them. The others (tables, filesystems, mounts, extraction, finalize) are retried or abort.
_SKIPPING: dict[type[Step], str] = {
    RewriteReferences: "the restored files keep the references that are not rewritten yet, "
                       "and the fstab its entries for devices that are not there: the "
                       "restored system may wait for them at boot",
    InstallBootLoader: "grub is not installed again: the disk boots only with what the set "
                       "had of the boot loader, where that still fits the new disks",
    RebuildInitramfs: "the restored initramfs stays as it was",
    SetIdentifiers: "the disk id, partition types and partition UUIDs stay new: a system "
                    "that finds its disks by them may not boot",
    WriteBootArea: "the disk has no boot code until a boot loader is installed",
    WriteImage: "that partition is left without its saved content",
}


def _run_asking(applier: _Applier, plan: Plan, index: int, step: Step,
                listener: Listener) -> bool:
    """Runs the step; when it fails, asks: retry (runs it again), skip (False: not done) or
    abort (the step's error stands, as when nobody answers)."""
    while True:
        try:
            applier.run(step)
            return True
        except Cancelled:
            raise
        except RestoreError as exc:
            if applier.cancel is not None and applier.cancel.is_set():
                # Ctrl-C reaches the tools too: a tool that died of it failed the step.
                log.info("step %d ended by the cancel: %s", index + 1, exc.message)
                raise Cancelled("The restore was cancelled.") from exc
            log.error("step %d failed: %s %s", index + 1, exc.message, exc.hint)
            answer = ask(listener, step_failed(index + 1, len(plan.steps),
                                               describe_step(plan, step), exc,
                                               _SKIPPING.get(type(step))))
            if answer == SKIP:
                what = f"step {index + 1} ({describe_step(plan, step)}): {_SKIPPING[type(step)]}"
                applier.result.skipped.append(what)
                listener(Message(f"Skipped {what}."))
                return False
            if answer != RETRY:
                raise
            listener(Message(f"Step {index + 1} is tried again."))


# The steps that lay out a disk; once the last of them for a target is done, its partition
# tables are recorded in the journal.
_TABLE_STEPS = (Wipe, CreateTable, CreatePartition, SetIdentifiers, WriteBootArea)
# The steps that fill a filesystem's partition: skipped when the journal has it restored.
_FILESYSTEM_STEPS = (MakeFilesystem, WriteImage, Restore)


def _resume_point(plan: Plan, filesystems: list[Filesystem], listener: Listener) -> Journal:
    """The journal this run continues: an earlier run's, when the disks still match it, or a
    new one. Reads the disks only. Journals of other plans for these targets are removed:
    this run's writes make them stale."""
    journal, problem = load_journal(plan)
    if problem:
        listener(Message(problem + " The restore starts from the beginning."))
    if journal is not None and not journal.empty:
        problems = check_disks(journal, plan, filesystems)
        if problems:
            listener(Message(
                f"An interrupted run of this restore (started {_when(journal.started_at)}) is "
                f"recorded, but the disks no longer match it: {'; '.join(problems[:3])}. "
                "The restore starts from the beginning."))
            journal = None
    targets = [d.target.path for d in plan.disks]
    for path in journals_on(targets):
        if journal is None or path != journal.path:
            log.info("removing the stale restore journal %s", path)
            with contextlib.suppress(OSError):
                os.unlink(path)
    return journal if journal is not None else Journal.begin(plan)


def _when(moment: datetime) -> str:
    """14:02 today, else 2024-05-03 14:02 (local time)."""
    local = moment.astimezone()
    if local.date() == datetime.now().astimezone().date():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


class _Resumed:
    """What an earlier run of this plan finished, as the journal had it when this run began."""

    def __init__(self, plan: Plan, journal: Journal):
        self.plan = plan
        self.tables = set(journal.tables)
        self.done = dict(journal.done)
        self.verified = journal.verified

    def skips(self, step: Step) -> bool:
        if isinstance(step, _TABLE_STEPS):
            return step.target in self.tables
        if isinstance(step, Verify):
            # Verified before a finalize step failed, which may have changed files since.
            return self.verified and all(fs in self.done for fs in step.fs)
        if isinstance(step, _FILESYSTEM_STEPS):
            return step.fs in self.done
        return False

    def describe(self, filesystems: list[Filesystem], started: datetime) -> str:
        """One message for the operator: what is taken over, what is done again."""
        filled = [fs for fs in filesystems if fs.id in self.plan.filesystems
                  and fs.archive is not None]
        done = [fs.title for fs in filled if fs.id in self.done]
        again = [fs.title for fs in filled if fs.id not in self.done]
        targets = [d.target.path for d in self.plan.disks]
        if set(targets) <= self.tables:
            tables = "the partition tables" if len(targets) > 1 else "the partition table"
        else:
            tables = "the partition table of " + ", ".join(t for t in targets if t in self.tables)
        if not done:
            what = f"{tables} {'are' if tables == 'the partition tables' else 'is'} already written"
        else:
            what = (f"{tables} and {len(done)} of {len(filled)} filesystems ({', '.join(done)}) "
                    "are already restored")
        if again:
            rest = (f"{', '.join(again)} {'is' if len(again) == 1 else 'are'} restored again "
                    "from the start")
        else:
            rest = "they are verified again"
        return f"Resuming the restore started at {_when(started)}: {what}; {rest}."


def _cancelled(plan: Plan, filesystems: list[Filesystem], journal: Journal,
               begun: list[Step], between_steps: bool) -> Cancelled:
    """What a cancelled run leaves, in words, once everything is unmounted and written back:
    the tables and filesystems the journal has as done, those begun and not finished."""
    if not begun and journal.empty:
        return Cancelled("The restore was cancelled before anything was written.",
                         "The targets are as they were.")
    step = begun[-1] if begun else None
    targets = [d.target.path for d in plan.disks]
    started_tables = {s.target for s in begun if isinstance(s, _TABLE_STEPS)}
    said: list[str] = []
    for target in targets:
        name = os.path.basename(target)
        if target in journal.tables:
            said.append(f"the partition table of {name} is written")
        elif target in started_tables:
            said.append(f"the partition table of {name} is partly written")
    started_fs = {s.fs for s in begun if isinstance(s, (WriteImage, Restore))}
    filled = [fs for fs in filesystems if fs.id in plan.filesystems and fs.archive is not None]
    groups = {"restored": [fs.title for fs in filled if fs.id in journal.done],
              "partly restored": [fs.title for fs in filled
                                  if fs.id in started_fs and fs.id not in journal.done],
              "not restored yet": [fs.title for fs in filled
                                   if fs.id not in started_fs and fs.id not in journal.done]}
    for state, titles in groups.items():
        if titles:
            named = ", ".join(titles[:-1]) + " and " + titles[-1] if len(titles) > 1 \
                else titles[0]
            said.append(f"{named} {'is' if len(titles) == 1 else 'are'} {state}")
    where = (f" {'after' if between_steps else 'in'} step {plan.steps.index(step) + 1} of "
             f"{len(plan.steps)} ({describe_step(plan, step)})" if step is not None else "")
    again = ("it resumes after what is done" if journal.writable
             else "it starts from the beginning (the journal could not be written)")
    unfinished = groups["partly restored"] or groups["not restored yet"] or \
        set(targets) - set(journal.tables)
    return Cancelled(f"The restore was cancelled{where}: {'; '.join(said)}.",
                     ("The target will not boot as it is. " if unfinished else "")
                     + f"Run the same restore again: {again}.")


def _check_still_planned(disk: DiskPlan) -> None:
    """The target is still the disk the plan was made for: same size, and the same drive when
    the plan knew its serial (device names can change between planning and applying)."""
    path, planned = disk.target.path, disk.target
    if not os.path.exists(path):
        raise RestoreError(f"The target {path} of the plan is gone. Nothing was written.",
                           "Make the plan again with the disks of this machine.")
    size = device_size(path)
    found = describe_device(path) if is_block_device(path) else None
    serial = found.serial if found else ""
    if size != planned.size or (planned.serial and serial != planned.serial):
        raise RestoreError(
            f"{path} is not the disk the plan was made for: planned {disk.title}, "
            f"found {found.title() if found else exact_size(size)}. Nothing was written.",
            "Make the plan again with the disks of this machine.")


class _Applier:
    """Runs steps: holds the attached targets, the mounts and what was restored."""

    def __init__(self, plan: Plan, backup_set: BackupSet, listener: Listener,
                 stack: contextlib.ExitStack, journal: Journal, cancel: CancelToken | None):
        self.plan, self.set, self.listener, self.stack = plan, backup_set, listener, stack
        self.journal = journal
        self.cancel = cancel
        self.result = RestoreResult()
        self.attached: dict[str, AttachedDisk] = {}
        self.checked: set[str] = set()
        self.mounts: dict[int, str] = {}
        self.root: str | None = None
        self.mismatched: list[tuple[Filesystem, list[bytes]]] = []
        self.write_backs: list[WriteBack] = []
        self.live_verifies: dict[int, LiveVerify] = {}
        # fs id -> the inode flags its target filesystem did not take (said, then not verified)
        self.refused_flags: dict[int, int] = {}
        # Original mount points of the filesystems mounted inside the restored root.
        self.nested = {step.mountpoint for step in plan.steps
                       if isinstance(step, Mount) and step.mountpoint}
        self.catalog = stack.enter_context(Catalog(backup_set.catalog_path))
        self.in_chroot = False  # /dev, /proc, /sys and /run mounted in the restored root
        self.metadata_files: dict[str, str] = {}  # volume group -> its metadata for LVM
        self.passphrases: dict[str, str] = {}  # LUKS UUID -> passphrase, never logged

    def run(self, step: Step) -> None:
        _HANDLERS[type(step)](self, step)

    def _writing(self, target: str) -> None:
        """The safety rules, once more, right before the first write to target."""
        if target not in self.checked:
            check_target(target, self.plan.set_path)
            self.checked.add(target)

    def tables_written(self, target: str) -> None:
        """The target's tables, identifiers and boot area are written: on the disk, then in
        the journal."""
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self.journal.record_tables(target)

    def _layout(self, target: str) -> Disk:
        return self.plan.disk_for_target(target).layout

    def _attached(self, target: str) -> AttachedDisk:
        """The target with its new partitions as devices, attached once (image files)."""
        if target not in self.attached:
            self._writing(target)  # a resumed restore writes its first bytes here
            spans = [(p.number, p.start, p.size) for p in self._layout(target).partitions]
            self.attached[target] = self.stack.enter_context(
                attach_disk(target, spans, read_only=False))
        return self.attached[target]

    def _partition(self, target: str, number: int) -> str:
        return self._attached(target).partition(number)

    def _device(self, target: str, fs: Filesystem) -> str:
        """Where fs goes on the target: its partition, its LV's device or its LUKS mapping."""
        if fs.on.startswith("lv:"):
            vg, _, lv = fs.on[3:].partition("/")
            return lv_path(vg, lv)
        if fs.on.startswith("luks:"):
            return self._mapping(fs.on)
        if fs.on.startswith("md:"):
            return self.set.stack.array(fs.on[3:]).device
        return self._partition(target, fs.partition)

    def _mapping(self, place: str) -> str:
        return f"/dev/mapper/{self.set.stack.container(place[5:]).name}"

    def _pv_device(self, step: CreatePhysicalVolume) -> str:
        if step.on.startswith("md:"):
            return self.set.stack.array(step.on[3:]).device
        return self._mapping(step.on) if step.on else self._partition(step.target,
                                                                      step.partition)

    def _pv_devices(self, group: str) -> dict[str, tuple[str, int]]:
        """PV UUID -> (its new device, that device's size), from the plan's steps."""
        found = {}
        for step in self.plan.steps:
            if isinstance(step, CreatePhysicalVolume) and step.group == group:
                found[step.uuid] = (self._pv_device(step), step.size)
        return found

    def _metadata_file(self, step: CreatePhysicalVolume | CreateVolumeGroup) -> str:
        """The group's metadata as the restore makes it, in a file of its own (once)."""
        if step.group in self.metadata_files:
            return self.metadata_files[step.group]
        group = self.set.stack.group(step.group)
        create = next(s for s in self.plan.steps
                      if isinstance(s, CreateVolumeGroup) and s.group == step.group)
        unchanged = all(create.sizes.get(lv.name) == lv.size for lv in group.lvs)
        devices = self._pv_devices(step.group)
        unchanged = unchanged and all(devices[pv.uuid][1] >= (pv.device_size or pv.size)
                                      for pv in group.pvs)
        text = group.metadata if unchanged and group.metadata else group_metadata(
            group, devices, create.sizes)
        directory = tempfile.mkdtemp(prefix="restore-console-lvm-")
        self.stack.callback(shutil.rmtree, directory, True)
        path = os.path.join(directory, f"{step.group}.vgcfg")
        with open(path, "w") as f:
            f.write(text)
        self.metadata_files[step.group] = path
        return path

    def _covered(self, fs: Filesystem) -> set[str]:
        """Where, inside fs, other filesystems are mounted (their paths are not fs's own)."""
        return self.nested if fs.mountpoint in self.nested else set()

    def _fs(self, step: MakeFilesystem | WriteImage | Mount | Restore) -> Filesystem:
        return next(fs for fs in self.set.filesystems if fs.id == step.fs)

    def _wipe(self, step: Wipe) -> None:
        self._writing(step.target)
        run(["wipefs", "-a", "-q", step.target], f"wipe the old signatures of {step.target}")

    def _create_table(self, step: CreateTable) -> None:
        self._writing(step.target)
        create_table(step.target, self._layout(step.target))

    def _create_partition(self, step: CreatePartition) -> None:
        self._writing(step.target)
        create_partition(step.target, self._layout(step.target), step.number)

    def _set_identifiers(self, step: SetIdentifiers) -> None:
        self._writing(step.target)
        set_identifiers(step.target, self._layout(step.target))

    def _write_boot_area(self, step: WriteBootArea) -> None:
        original = self.set.disk(step.source)
        first = min(p.start for p in self._layout(step.target).partitions)
        saved_up_to = min(p.start for p in original.partitions)
        device = self._attached(step.target).device
        # Boot code and the gap after the table, never the table itself (bytes 440-511).
        extract_raw_archive(original.boot_area, self.set.medium, device,
                            label=f"the boot area of {original.name}", listener=self.listener,
                            spans=[(0, 440), (512, min(first, saved_up_to))],
                            cancel=self.cancel)

    def _create_array(self, step: CreateArray) -> None:
        members: list[str | None] = []
        for member in step.members:
            if member == "missing":
                members.append(None)
                continue
            target, _, number = member.rpartition(":")
            self._writing(target)
            device = self._partition(target, int(number))
            run(["wipefs", "-a", "-q", device], f"wipe the old signatures of {device}")
            members.append(device)
        create_array(self.set.stack.array(step.uuid), step.device, members)
        # after everything on it is unmounted and deactivated (the stack unwinds in reverse)
        self.stack.callback(stop_array, step.device)

    def _create_luks(self, step: CreateLuks) -> None:
        self._writing(step.target)
        device = self._partition(step.target, step.partition)
        run(["wipefs", "-a", "-q", device], f"wipe the old signatures of {device}")
        container = self.set.stack.container(step.uuid)
        format_container(container, device, self.passphrases[step.uuid])
        open_container(device, step.name, self.passphrases[step.uuid])
        # after everything in it is unmounted and deactivated (the stack unwinds in reverse)
        self.stack.callback(close_container, step.name)

    def _create_physical_volume(self, step: CreatePhysicalVolume) -> None:
        self._writing(step.target)
        device = self._pv_device(step)
        run(["wipefs", "-a", "-q", device], f"wipe the old signatures of {device}")
        create_physical_volume(step.uuid, device, self._metadata_file(step))

    def _create_volume_group(self, step: CreateVolumeGroup) -> None:
        restore_group(step.group, self._metadata_file(step))
        activate(step.group)
        # after every mount of its volumes is undone (the stack unwinds in reverse)
        self.stack.callback(deactivate, step.group)

    def _write_image(self, step: WriteImage) -> None:
        fs = self._fs(step)
        device = self._device(step.target, fs)
        run(["wipefs", "-a", "-q", device], f"wipe the old signatures of {device}")
        extract_raw_archive(fs.archive, self.set.medium, device, label=fs.title,
                            listener=self.listener, cancel=self.cancel)  # fsyncs the device
        self.journal.record_filesystem(fs.id, WRITTEN)
        self.result.images += 1
        self.result.image_bytes += fs.archive.uncompressed_size
        self.result.filesystems.append(fs.title)

    def _make_filesystem(self, step: MakeFilesystem) -> None:
        fs = self._fs(step)
        device = self._device(step.target, fs)
        run(["wipefs", "-a", "-q", device], f"wipe the old signatures of {device}")
        make_filesystem(replace(fs, uuid=step.uuid), device, step.size)  # a new one if planned
        self.result.filesystems.append(fs.title)

    def _mount(self, step: Mount) -> None:
        fs = self._fs(step)
        device = self._device(step.target, fs)
        options = _TARGET_OPTIONS.get(fs.type, "")
        if fs.subvolumes:
            self._mount_subvolumes(step, fs, device)
            return
        if step.mountpoint:
            self.mounts[fs.id] = self.stack.enter_context(
                mounted(device, fs.type, options, where=self._tree_root(step.mountpoint)))
        else:
            self.mounts[fs.id] = self.stack.enter_context(mounted(device, fs.type, options))

    def _tree_root(self, mountpoint: str) -> str:
        """Where the restored tree has mountpoint: under a directory of our own."""
        if self.root is None:
            self.root = tempfile.mkdtemp(prefix="restore-console-target-")
            self.stack.callback(os.rmdir, self.root)
        where = os.path.join(self.root, mountpoint.lstrip("/"))
        os.makedirs(where, exist_ok=True)
        return where

    def _mount_subvolumes(self, step: Mount, fs: Filesystem, device: str) -> None:
        """A btrfs with subvolumes: its top level on a mount of its own, where the subvolumes
        are made (already there on a resumed run) and the archives go; the subvolume the
        machine had at step.mountpoint also there in the restored tree, so that what is
        mounted inside it (/boot) and the log find their place."""
        top = self.stack.enter_context(mounted(device, fs.type, "subvolid=5"))
        self.mounts[fs.id] = top
        create_subvolumes(top, fs.subvolumes)
        if not step.mountpoint:
            return
        option = f"subvol=/{step.subvolume}" if step.subvolume else "subvolid=5"
        self.stack.enter_context(mounted(device, fs.type, option,
                                         where=self._tree_root(step.mountpoint)))

    def _subvolume_trees(self, fs: Filesystem) -> list[tuple[Filesystem, str, str]]:
        """(file tree, where it is on the target, how paths in it are said) of a btrfs with
        subvolumes: its top level, then each subvolume, parents first."""
        top = self.mounts[fs.id]
        trees = [(fs, top, fs.mountpoint or f"fs-{fs.id}:")]
        for subvolume in creation_order(fs.subvolumes):
            view = fs.subvolume_view(subvolume)
            trees.append((view, os.path.join(top, subvolume.path),
                          subvolume.mountpoint or f"fs-{fs.id}:/{subvolume.path}"))
        return trees

    def _restore_subvolumes(self, fs: Filesystem) -> None:
        """Each archive into its subvolume, checked against the catalog as it goes, its inode
        flags, then quota limits, read-only flags and the default subvolume (the flags last:
        a read-only subvolume takes no more writes)."""
        write_back = WriteBack(self.mounts[fs.id], f"the restored {fs.title}")
        self.write_backs.append(write_back)
        self.stack.callback(write_back.wait)
        mismatched: list[bytes] = []
        for view, where, shown in self._subvolume_trees(fs):
            done = extract_tar_archive(view.archive, self.set.medium, where, label=view.title,
                                       expected=_ExpectedHashes(self.catalog, view.id),
                                       listener=self.listener, cancel=self.cancel)
            tree = TreeOfFs.of(shown, where, set())
            self.refused_flags[view.id] = restore_flags(self.catalog, view.id, tree,
                                                        view.title, self.listener)
            self.result.entries += done.files
            self.result.bytes += done.file_bytes
            mismatched += [os.fsencode(shown.rstrip("/")) + p for p in done.mismatched]
        finish_subvolumes(self.mounts[fs.id], fs.subvolumes, fs.quota)
        if not mismatched:
            write_back.on_written = lambda: self.journal.record_filesystem(fs.id, RESTORED)
        else:
            self.mismatched.append((fs, mismatched))
        write_back.finish()

    def _restore(self, step: Restore) -> None:
        fs = self._fs(step)
        if fs.subvolumes:  # the Mount step made them and mounted the top level
            self._restore_subvolumes(fs)
            return
        write_back = WriteBack(self.mounts[fs.id], f"the restored {fs.title}")
        self.write_backs.append(write_back)
        self.stack.callback(write_back.wait)  # before its unmount, also when a step fails
        live = LiveVerify(self.set.catalog_path, fs, self.mounts[fs.id], self._covered(fs))
        self.live_verifies[fs.id] = live
        self.stack.callback(live.stop)
        done = extract_tar_archive(fs.archive, self.set.medium, self.mounts[fs.id],
                                   label=fs.title, expected=_ExpectedHashes(self.catalog, fs.id),
                                   listener=self.listener, cancel=self.cancel)
        tree = TreeOfFs.of(fs.mountpoint, self.mounts[fs.id], self._covered(fs))
        self.refused_flags[fs.id] = restore_flags(self.catalog, fs.id, tree, fs.title,
                                                  self.listener)
        if not done.mismatched:
            # Restored once all of it is on the disk: the write-back records it itself.
            write_back.on_written = lambda: self.journal.record_filesystem(fs.id, RESTORED)
        write_back.finish()  # its last syncfs overlaps the verify and the next extraction
        live.extracted()
        self.result.entries += done.files
        self.result.bytes += done.file_bytes
        if done.mismatched:
            self.mismatched.append((fs, done.mismatched))

    def _verify(self, step: Verify) -> None:
        if self.mismatched:
            fs, paths = self.mismatched[0]
            raise RestoreError(f"{sum(len(p) for _, p in self.mismatched)} restored files do not "
                               f"match their BLAKE3 in the catalog; in {fs.title}: "
                               f"{_describe(paths)}.",
                               "The set is damaged: restore those files from another copy.")
        checked = [fs for fs in self.set.filesystems if fs.id in step.fs]
        found = VerifyResult()
        progress = Progress("Verifying", files_total=sum(a.members for fs in checked
                                                         for a in fs.archives))
        for fs in checked:
            if fs.subvolumes:
                for view, where, shown in self._subvolume_trees(fs):
                    check_filesystem(self.catalog, view, where, set(), found, progress,
                                     self.listener, content=False, shown_as=shown,
                                     flags_left_out=self.refused_flags.get(view.id, 0))
                continue
            live = self.live_verifies.get(fs.id)
            followed = live.result() if live else None
            if followed is None:  # not restored in this run, or the child failed: check here
                check_filesystem(self.catalog, fs, self.mounts[fs.id], self._covered(fs), found,
                                 progress, self.listener, content=False,
                                 flags_left_out=self.refused_flags.get(fs.id, 0))
                continue
            found.checked += followed.checked
            found.covered += followed.covered
            found.differences += followed.differences
            tree = TreeOfFs.of(fs.mountpoint, self.mounts[fs.id], self._covered(fs))
            found.differences += [Difference(tree.shown(inner), what)
                                  for inner, what in flag_differences(
                                      self.catalog, fs.id, tree,
                                      leave_out=self.refused_flags.get(fs.id, 0))]
            progress.files_done = found.checked
            self.listener(progress)
        self.listener(progress)
        self.result.verified = found.checked
        self.result.covered = found.covered
        if not found.differences:
            self.journal.record_verified()
        if found.differences:
            # What was restored is suspect, also what an earlier run did: run again, the
            # restore starts from the beginning instead of resuming.
            self.journal.delete()
            shown = "; ".join(f"{d.path}: {d.what}" for d in found.differences[:MAX_NAMED_FILES])
            raise RestoreError(f"{len(found.differences)} restored entries differ from the "
                               f"catalog: {shown}.", "The log has the restore's details; run "
                               "the restore again to start it from the beginning.")

    def _restored_root(self) -> str:
        if self.root is None:
            raise RestoreError("The restored root filesystem is not mounted: there is nothing "
                               "to finalize.", "Make the plan again with the root's disk.")
        return self.root

    def _chroot(self) -> str:
        """The restored root, with /dev, /proc, /sys and /run mounted in it (once; they are
        unmounted before the restored filesystems)."""
        root = self._restored_root()
        if not self.in_chroot:
            self.stack.enter_context(system_mounts(root))
            self.in_chroot = True
        return root

    def _restored(self) -> list[RestoredFilesystem]:
        """The plan's filesystems as blkid reads them on the targets now."""
        found = []
        for fs in self.set.filesystems:
            disk = next((d for d in self.plan.disks if d.source == fs.disk), None)
            if fs.id not in self.plan.filesystems or disk is None:
                continue
            if fs.on and not fs.on.startswith(("lv:", "luks:", "md:")):
                continue  # not restored through this plan's layers
            if not fs.on and fs.content and not fs.type:
                continue  # a layer's partition (a PV), no filesystem of its own
            device = self._device(disk.target.path, fs)
            seen = probe(device)
            found.append(RestoredFilesystem(fs, device, seen.uuid, seen.label))
        return found

    def _rewrite_references(self, step: RewriteReferences) -> None:
        root = self._restored_root()
        restored = self._restored()
        refs = references_for(restored, read_restored(root, "/etc/fstab") or "")
        for change in rewrite_references(root, refs, self.listener):
            self.result.changes.append(change.words)  # a retry finds only what is left
            self.result.finalized.append(change.file)
        left_out = [fs for fs in self.set.filesystems if fs.id not in self.plan.filesystems]
        check_fstab(root, known_for(restored, [d.layout for d in self.plan.disks]), left_out)

    def _install_boot_loader(self, step: InstallBootLoader) -> None:
        root = self._chroot()
        disk = self._attached(step.target)
        esp = disk.partition(step.partition) if step.firmware == "efi" else None
        here = {r.device: r.uuid for r in self._restored() if r.uuid}
        self.result.finalized.append(GRUB_DIRECTORY)  # also when it fails half-way
        done, changes = install_grub(root, step, disk.device, esp, here, self.listener)
        self.result.boot += done
        self.result.changes += [change.words for change in changes]

    def _rebuild_initramfs(self, step: RebuildInitramfs) -> None:
        root = self._chroot()
        try:
            self.result.boot.append(rebuild_initramfs(root, self.listener))
        finally:
            self.result.finalized += initramfs_files(root)

    def _finalize(self, step: Finalize) -> None:
        for write_back in self.write_backs:
            write_back.check()
        if step.log and self.root is not None:
            self.result.log_copy = copy_log_and_plan(self.root, self.plan.to_json()) or ""


# Which handler carries out each kind of step (steps.py has every kind and what it says).
_HANDLERS: dict[type[Step], Callable[[_Applier, Any], None]] = {
    Wipe: _Applier._wipe,
    CreateTable: _Applier._create_table,
    CreatePartition: _Applier._create_partition,
    SetIdentifiers: _Applier._set_identifiers,
    WriteBootArea: _Applier._write_boot_area,
    CreateArray: _Applier._create_array,
    CreateLuks: _Applier._create_luks,
    CreatePhysicalVolume: _Applier._create_physical_volume,
    CreateVolumeGroup: _Applier._create_volume_group,
    MakeFilesystem: _Applier._make_filesystem,
    WriteImage: _Applier._write_image,
    Mount: _Applier._mount,
    Restore: _Applier._restore,
    Verify: _Applier._verify,
    RewriteReferences: _Applier._rewrite_references,
    InstallBootLoader: _Applier._install_boot_loader,
    RebuildInitramfs: _Applier._rebuild_initramfs,
    Finalize: _Applier._finalize,
}

