"""The restore journal: what an applying plan has durably finished, so that running the same
restore again after an interruption resumes at the filesystem it stopped in.

One small JSON file per plan in the state directory, /var/lib/restore-console/ (or the directory
the environment variable RESTORE_CONSOLE_STATE names). In the rescue initrd that directory is in
RAM: the journal survives a killed or crashed console, Ctrl-C and the expert shell, but not a
reboot; after a reboot the restore simply starts over, with the same result.

The file is named by a fingerprint of the plan (the set, each target disk with its size, serial
and new layout, and the steps), so another mapping, another resize policy or another set never
resumes from it. It records, each only once it is on the disk: the partition tables of a target
(with its identifiers and boot area), and each filesystem restored (made, extracted with every
BLAKE3 matching, written back without error) or raw image written (fsynced). Before a resume,
`mismatches` checks that the disks still are what the journal says.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..disks.partition_table import read_table
from ..disks.probe import Probe, probe
from ..errors import RestoreError
from ..layout import Disk, Filesystem

if TYPE_CHECKING:
    from ..planning.plan import Plan

log = logging.getLogger("restore_console")

STATE_ENV = "RESTORE_CONSOLE_STATE"
DEFAULT_STATE_DIR = "/var/lib/restore-console"
JOURNAL_FORMAT = 1
RESTORED = "restored"  # a filesystem made and extracted from its tar archive
WRITTEN = "written"  # a raw image written onto its partition


def state_dir() -> str:
    return os.environ.get(STATE_ENV) or DEFAULT_STATE_DIR


def fingerprint(plan: Plan) -> str:
    """What makes two plans the same restore: the set, the target disks as planned (path, size,
    serial, new layout) and the steps. The set's path is left out: the same set may be mounted
    elsewhere after the interruption."""
    data = {"set_id": plan.set_id,
            "disks": [{"path": d.target.path, "size": d.target.size,
                       "serial": d.target.serial, "layout": d.layout.to_json()}
                      for d in plan.disks],
            "steps": [step.to_json() for step in plan.steps]}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def journal_path(key: str, directory: str | None = None) -> str:
    """Where the journal of the plan with fingerprint key is kept."""
    return os.path.join(directory or state_dir(), f"restore-{key[:32]}.json")


def write_atomically(path: str, data: bytes) -> None:
    """The file is either the old or the new content, also after a crash: a temporary file in
    the same directory, fsynced, renamed over it, and the directory fsynced."""
    directory = os.path.dirname(path)
    fd, temporary = tempfile.mkstemp(prefix=".journal-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass
class Journal:
    """The record of one plan's restore. `tables` are target paths whose partition tables are
    written; `done` maps a filesystem id to RESTORED or WRITTEN."""

    path: str
    fingerprint: str
    set_id: str
    targets: list[str]
    started: str  # ISO 8601, UTC: when the first run began
    tables: list[str] = field(default_factory=list)
    done: dict[int, str] = field(default_factory=dict)
    writable: bool = True  # False once a write failed: the restore goes on without a journal
    # The verify passed: what the finalize changes after it (fstab, grub) is not a difference
    verified: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()  # a write-back thread records its filesystem itself

    @classmethod
    def begin(cls, plan: Plan, now: datetime | None = None,
              directory: str | None = None) -> "Journal":
        """A new, empty journal for plan (not yet saved)."""
        key = fingerprint(plan)
        started = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
        return cls(path=journal_path(key, directory), fingerprint=key, set_id=plan.set_id,
                   targets=[d.target.path for d in plan.disks], started=started)

    def to_json(self) -> dict:
        return {"format": JOURNAL_FORMAT, "fingerprint": self.fingerprint, "set_id": self.set_id,
                "targets": self.targets, "started": self.started, "tables": self.tables,
                "done": {str(k): v for k, v in sorted(self.done.items())},
                **({"verified": True} if self.verified else {})}

    @classmethod
    def from_json(cls, path: str, data: dict) -> "Journal":
        if data.get("format") != JOURNAL_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {JOURNAL_FORMAT}")
        done = {int(k): v for k, v in data["done"].items()}
        if any(v not in (RESTORED, WRITTEN) for v in done.values()):
            raise ValueError("unknown state of a filesystem")
        return cls(path=path, fingerprint=str(data["fingerprint"]), set_id=str(data["set_id"]),
                   targets=[str(t) for t in data["targets"]], started=str(data["started"]),
                   tables=[str(t) for t in data["tables"]], done=done,
                   verified=data.get("verified") is True)

    @property
    def started_at(self) -> datetime:
        return datetime.fromisoformat(self.started)

    @property
    def empty(self) -> bool:
        return not self.tables and not self.done

    def save(self) -> None:
        """Writes the journal atomically. A failure is logged and ends the journal's writing
        (the restore itself goes on; only a resume is lost)."""
        with self._lock:
            self._write()

    def _write(self) -> None:
        if not self.writable:
            return
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            write_atomically(self.path, json.dumps(self.to_json(), indent=1).encode())
        except OSError as exc:
            self.writable = False
            log.warning("cannot write the restore journal %s: %s; an interrupted restore "
                        "will start over", self.path, exc)

    def record_tables(self, target: str) -> None:
        with self._lock:
            if target not in self.tables:
                self.tables.append(target)
            self._write()
        log.info("journal: the partition table of %s is written", target)

    def record_filesystem(self, fs_id: int, state: str) -> None:
        with self._lock:
            self.done[fs_id] = state
            self._write()
        log.info("journal: filesystem %d is %s", fs_id, state)

    def record_verified(self) -> None:
        with self._lock:
            self.verified = True
            self._write()
        log.info("journal: the restored filesystems are verified")

    def delete(self) -> None:
        """Removes the file; records made later (a write-back finishing) are not written."""
        with self._lock, contextlib.suppress(OSError):
            self.writable = False
            os.unlink(self.path)


def load(plan: Plan, directory: str | None = None) -> tuple[Journal | None, str]:
    """The journal of this plan, if there is one, and words saying why a journal file that
    exists cannot be used ("" when there is none or it is fine). A file that cannot be read is
    the same as none: the restore starts from the beginning."""
    path = journal_path(fingerprint(plan), directory)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, f"The journal of an earlier run ({path}) cannot be read: {exc.strerror}."
    try:
        journal = Journal.from_json(path, json.loads(raw))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("journal %s is damaged: %r", path, exc)
        return None, f"The journal of an earlier run ({path}) is damaged and is not used."
    if journal.fingerprint != fingerprint(plan):
        return None, f"The journal {path} belongs to another plan and is not used."
    return journal, ""


def journals_on(targets: list[str], directory: str | None = None) -> list[str]:
    """Paths of the journal files that name any of these targets (any plan): writing to those
    targets makes them stale."""
    directory = directory or state_dir()
    found = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    for name in names:
        if not (name.startswith("restore-") and name.endswith(".json")):
            continue
        path = os.path.join(directory, name)
        try:
            with open(path, "rb") as f:
                named = json.loads(f.read()).get("targets", [])
        except (OSError, ValueError, AttributeError):
            continue
        if set(named) & set(targets):
            found.append(path)
    return found


def _same_id(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def table_mismatches(planned: Disk, found: Disk | None, target: str) -> list[str]:
    """How the table read from target differs from the plan's layout, in words (empty: none)."""
    if found is None:
        return [f"{target} has no readable partition table"]
    problems = []
    if found.table != planned.table:
        problems.append(f"{target} has a {found.table} table, the plan a {planned.table} table")
    if planned.disk_id and not _same_id(found.disk_id, planned.disk_id):
        problems.append(f"{target} has disk id {found.disk_id or '-'}, the plan "
                        f"{planned.disk_id}")
    have = {p.number: p for p in found.partitions}
    for part in planned.partitions:
        got = have.pop(part.number, None)
        name = f"partition {part.number} of {target}"
        if got is None:
            problems.append(f"{name} is missing")
            continue
        if (got.start, got.size) != (part.start, part.size):
            problems.append(f"{name} is at {got.start} (+{got.size} bytes), the plan has it at "
                            f"{part.start} (+{part.size} bytes)")
        if part.kind == "extended":
            continue  # its type is libparted's, never set from the original
        if part.type_uuid and not _same_id(got.type_uuid, part.type_uuid):
            problems.append(f"{name} has type {got.type_uuid or '-'}, the plan {part.type_uuid}")
        if part.type_id is not None and got.type_id != part.type_id:
            shown = f"{got.type_id:#x}" if got.type_id is not None else "-"
            problems.append(f"{name} has type {shown}, the plan {part.type_id:#x}")
        if part.partuuid and not _same_id(got.partuuid, part.partuuid):
            problems.append(f"{name} has PARTUUID {got.partuuid or '-'}, the plan "
                            f"{part.partuuid}")
    for number in sorted(have):
        problems.append(f"{target} has a partition {number} the plan does not have")
    return problems


def filesystem_mismatches(fs: Filesystem, found: Probe, where: str) -> list[str]:
    """How what blkid found on fs's partition differs from the restored fs (empty: none)."""
    if not fs.type or not fs.uuid:
        return [f"{fs.title} on {where} has no type and UUID to recognise it by"]
    if found.type != fs.type or not _same_id(found.uuid, fs.uuid):
        return [f"{where} holds {found.type or 'no filesystem'} "
                f"{'UUID ' + found.uuid if found.uuid else ''}".rstrip()
                + f" instead of the restored {fs.type} UUID {fs.uuid}"]
    if found.label != fs.label:
        return [f"{where} has label {found.label or '-'} instead of {fs.label or '-'}"]
    return []


def mismatches(journal: Journal, plan: Plan, filesystems: list[Filesystem],
               tables: dict[str, Disk | None], probes: dict[int, Probe]) -> list[str]:
    """Whether the disks still are what the journal says: each recorded table is the plan's
    (`tables`: target -> the table read from it) and each recorded filesystem has its type,
    UUID and label (`probes`: filesystem id -> blkid's answer at its planned partition)."""
    problems = []
    for target in journal.tables:
        disk = next((d for d in plan.disks if d.target.path == target), None)
        if disk is None:
            problems.append(f"the journal names {target}, which is not in the plan")
            continue
        problems += table_mismatches(disk.layout, tables.get(target), target)
    by_id = {fs.id: fs for fs in filesystems}
    for fs_id in sorted(journal.done):
        fs = by_id.get(fs_id)
        if fs is None or fs_id not in plan.filesystems:
            problems.append(f"the journal names filesystem {fs_id}, which the plan does not "
                            "restore")
            continue
        disk = next((d for d in plan.disks if d.source == fs.disk), None)
        if disk is None or disk.target.path not in journal.tables:
            problems.append(f"{fs.title} is recorded as restored, but not the partition table "
                            "it is on")
            continue
        where = f"partition {fs.partition} of {disk.target.path}"
        found = probes.get(fs_id)
        if found is None:
            problems.append(f"{where} was not probed")
            continue
        problems += filesystem_mismatches(fs, found, where)
    return problems


def check_disks(journal: Journal, plan: Plan, filesystems: list[Filesystem]) -> list[str]:
    """mismatches() with the tables read from the targets (pyparted and sfdisk) and the
    filesystems probed with blkid at their planned partitions. Reads only."""
    tables: dict[str, Disk | None] = {}
    for target in journal.tables:
        try:
            tables[target] = read_table(target, target)
        except RestoreError as exc:
            log.info("journal check: %s", exc)
            tables[target] = None
    probes = {}
    by_id = {fs.id: fs for fs in filesystems}
    for fs_id in journal.done:
        fs = by_id.get(fs_id)
        disk = next((d for d in plan.disks if fs and d.source == fs.disk), None)
        if fs is None or disk is None:
            continue
        try:
            part = disk.layout.partition(fs.partition)
        except KeyError:
            continue
        probes[fs_id] = probe(disk.target.path, offset=part.start, size=part.size)
    return mismatches(journal, plan, filesystems, tables, probes)
