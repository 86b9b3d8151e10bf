"""A backup set on disk, format version 1: manifest.json, catalog.sqlite and the archives."""

from __future__ import annotations

import json
import mmap
import os
from dataclasses import dataclass, field
from typing import Any

import blake3

from ..errors import RestoreError, UsageError
from ..events import Listener, ignore
from ..layout import Archive, Disk, Filesystem, Omission, Piece, Stack
from ..media.isomedium import open_iso_set
from ..media.isovolume import is_iso
from ..media.medium import DirectoryMedium, SetMedium
from ..media.nfs import share_directory
from ..media.tape import is_tape
from ..media.tapeset import open_tape_set

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CATALOG = "catalog.sqlite"


@dataclass
class BackupSet:
    path: str
    set_id: str
    created: str
    host: str
    disks: list[Disk] = field(default_factory=list)
    filesystems: list[Filesystem] = field(default_factory=list)
    bootloader: dict[str, Any] = field(default_factory=dict)
    # What the backup met and did not capture fully (backup --allow-omissions); empty in a
    # complete set. A manifest without the field (written before it existed) reads as none.
    omissions: list[Omission] = field(default_factory=list)
    # md arrays, LVM and LUKS under the filesystems; a manifest without the key (plain
    # partitions, or written before stacks were captured) reads as none.
    stack: Stack = field(default_factory=Stack)
    # Where the pieces are read from when not from `path` (a tape); the manifest and the
    # catalog are in `path` either way.
    read_from: SetMedium | None = field(default=None, repr=False, compare=False)

    @property
    def medium(self) -> SetMedium:
        return self.read_from or DirectoryMedium(self.path)

    @property
    def catalog_path(self) -> str:
        return os.path.join(self.path, CATALOG)

    def disk(self, name: str) -> Disk:
        for disk in self.disks:
            if disk.name == name:
                return disk
        known = ", ".join(d.name for d in self.disks) or "none"
        raise UsageError(f"The set has no disk named {name}; its disks are: {known}.",
                           "Name the source disk as 'restore-console inspect SET' shows it.")

    def filesystems_on(self, disk: str) -> list[Filesystem]:
        return [fs for fs in self.filesystems if fs.disk == disk]

    def filesystem(self, fs_id: int) -> Filesystem:
        """A filesystem by its id, or the view of a btrfs subvolume by its catalog key."""
        for fs in self.filesystems:
            if fs.id == fs_id:
                return fs
            for subvolume in fs.subvolumes:
                if subvolume.catalog_id == fs_id:
                    return fs.subvolume_view(subvolume)
        raise UsageError(f"The set has no filesystem number {fs_id}.",
                         "'restore-console inspect SET' shows its filesystems.")

    def file_trees(self) -> list[Filesystem]:
        """What has a file list in the catalog: each filesystem archived file by file, and
        after a btrfs (its top level) a view of each of its subvolumes (Filesystem.subvolume
        set, its catalog key as id, its own mount point)."""
        trees = []
        for fs in self.filesystems:
            if fs.archive is not None and fs.archive.kind == "tar":
                trees.append(fs)
                trees += [fs.subvolume_view(s) for s in fs.subvolumes if s.archive]
        return trees

    def holder_of(self, tree: Filesystem) -> Filesystem:
        """The filesystem a file tree is part of: itself, or the btrfs of a subvolume view."""
        if not tree.subvolume:
            return tree
        return next(fs for fs in self.filesystems
                    if any(s.catalog_id == tree.id for s in fs.subvolumes))

    def piece_path(self, piece: Piece) -> str | None:
        """The piece as a file; None when its medium reads it in order only (a tape)."""
        return self.medium.piece_path(piece.file)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "set_id": self.set_id,
            "created": self.created,
            "host": self.host,
            "disks": [d.to_json() for d in self.disks],
            "filesystems": [fs.to_json() for fs in self.filesystems],
            "bootloader": self.bootloader,
            "omissions": [o.to_json() for o in self.omissions],
            # only when there is one: a set of plain partitions is written as before
            **({"stack": self.stack.to_json()} if self.stack else {}),
        }

    def save(self) -> None:
        """Writes the manifest whole and durably: a set without one is incomplete."""
        tmp = os.path.join(self.path, MANIFEST + ".tmp")
        with open(tmp, "w") as f:
            json.dump(self.to_json(), f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.path, MANIFEST))
        directory = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def load_set(where: str, listener: Listener = ignore) -> BackupSet:
    """The set in a directory, on a tape (a drive or a .tap image) or on ISO volumes (an image
    file or an optical drive): from a tape or an ISO volume its manifest and catalog are read
    into a directory of their own; questions about volumes go to listener. An NFS share
    (nfs://SERVER/PATH, SERVER:/PATH) is mounted read-only and read as a directory."""
    where = share_directory(where, listener)
    if is_tape(where):
        medium = open_tape_set(where, listener)
        backup_set = _load_directory(medium.directory)
        if backup_set.set_id != medium.header.set_id:
            raise RestoreError(f"The manifest on {where} is of set {backup_set.set_id}, its "
                               f"tape header of {medium.header.set_id}.",
                               "The tape is damaged: use another copy of the set.")
        backup_set.read_from = medium
        return backup_set
    if is_iso(where):
        medium = open_iso_set(where, listener)
        backup_set = _load_directory(medium.directory)
        if backup_set.set_id != medium.header.set_id:
            raise RestoreError(f"The manifest on {where} is of set {backup_set.set_id}, its "
                               f"volume header of {medium.header.set_id}.",
                               "The volume is damaged: use another copy of the set.")
        backup_set.read_from = medium
        return backup_set
    return _load_directory(where)


def _load_directory(path: str) -> BackupSet:
    manifest = os.path.join(path, MANIFEST)
    if not os.path.isdir(path):
        raise UsageError(f"{path} is not a directory.",
                         "Give the directory that holds manifest.json.")
    try:
        with open(manifest) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise UsageError(f"{path} holds no backup set: manifest.json is missing.",
                         "Give the directory that holds manifest.json.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RestoreError(f"The manifest {manifest} is damaged: {exc}.",
                           "Use another copy of the set.") from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        raise RestoreError(f"The set at {path} has format version {version}; this console "
                           f"reads version {FORMAT_VERSION}.",
                           "Use the restore-console release that wrote the set.")
    try:
        return BackupSet(
            path=path, set_id=data["set_id"], created=data["created"], host=data["host"],
            disks=[Disk.from_json(d) for d in data["disks"]],
            filesystems=[Filesystem.from_json(fs) for fs in data["filesystems"]],
            bootloader=data.get("bootloader") or {},
            omissions=[Omission.from_json(o) for o in data.get("omissions") or []],
            stack=Stack.from_json(data.get("stack")),
        )
    except (KeyError, TypeError) as exc:
        raise RestoreError(f"The manifest {manifest} is incomplete (missing {exc}).",
                           "Use another copy of the set.") from None


HASH_CHUNK = 16 * 1024 * 1024
READ_WHOLE_BELOW = 1024 * 1024  # smaller files are read in one go: cheaper than a map


def file_digest(path: str | bytes) -> bytes:
    """BLAKE3 of a file. A large one is mapped a window at a time: a map of the whole file
    would count as resident, and a writable buffer (readinto a bytearray) is copied by blake3
    before hashing, which made this four times slower (0.54 s against 0.13 s for 507 MiB)."""
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < READ_WHOLE_BELOW:
            hasher.update(f.read())
            return hasher.digest()
        for offset in range(0, size, HASH_CHUNK):
            with mmap.mmap(f.fileno(), min(HASH_CHUNK, size - offset), prot=mmap.PROT_READ,
                           offset=offset) as window:
                hasher.update(window)
    return hasher.digest()


def hash_file(path: str) -> str:
    """BLAKE3 of a file in hex, as the manifest writes it."""
    return file_digest(path).hex()


def check_pieces(backup_set: BackupSet, archive: Archive, what: str) -> list[Piece]:
    """Checks that every piece is there with its size; returns the pieces whose BLAKE3 differs.

    A missing or short piece is an error at once; a hash mismatch is returned so the caller
    can name the files it affects.
    """
    bad = []
    for piece in archive.pieces:
        path = backup_set.piece_path(piece)
        if path is None:
            continue  # read in order only: checked as it is read
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            raise RestoreError(f"The piece {piece.file} of {what} is missing from the set.",
                               "Copy the whole set again, or insert the volume that has it.") from None
        if size != piece.size:
            raise RestoreError(f"The piece {piece.file} of {what} is {size} bytes, the manifest "
                               f"says {piece.size}: it is truncated or damaged.",
                               "Use another copy of the set.")
        if hash_file(path) != piece.blake3:
            bad.append(piece)
    return bad
