"""Archives of one filesystem: written from a mounted tree or a raw partition, and read back.

Writing: GNU tar walks the read-only mount (the files it comes to next already on their way,
see readahead) and writes a pax stream; it passes through the TarScanner (catalog rows, BLAKE3
of each file) and the SeekableWriter (frames compressed on all cores). Extracting: frames are
decompressed ahead on a pool, scanned (every file's BLAKE3 is checked against the catalog) and
fed to GNU tar, which alone restores xattrs, ACLs and sparse files exactly.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from ..cancel import CancelToken, stop_if_cancelled
from ..errors import RestoreError
from ..events import Listener, Progress
from ..layout import Archive, Piece
from ..media.medium import DirectoryMedium, SetMedium
from ..system import first_line, require
from .readahead import ReadAhead
from .seekable import FRAME_SIZE, ForwardReader, Frame, SeekableReader, SeekableWriter
from .tarscan import Member, TarScanner

TOOLS = ("tar",)  # run here; the rescue image carries them

log = logging.getLogger("restore_console")

READ_SIZE = 1024 * 1024
F_SETPIPE_SZ = 1031
# Room for tar to run ahead of us (and us ahead of tar) while either is busy; above
# /proc/sys/fs/pipe-max-size only root may go, so 1 MiB is the fallback.
PIPE_SIZES = (32 * 1024 * 1024, 1024 * 1024)
TAR_CREATE = ["--create", "--format=posix", "--xattrs", "--xattrs-include=*", "--acls",
              "--numeric-owner", "--sparse", "--one-file-system", "--sort=name",
              "--pax-option=delete=ctime"]
TAR_EXTRACT = ["--extract", "--xattrs", "--xattrs-include=*", "--acls", "--numeric-owner",
               "--preserve-permissions", "--same-owner"]


def widen_pipe(fd: int) -> None:
    """A wide pipe instead of 64 KiB: tar and we each keep working while the other is busy."""
    for size in PIPE_SIZES:
        try:
            fcntl.fcntl(fd, F_SETPIPE_SZ, size)
            return
        except OSError:
            continue


class Throttle:
    """Calls the listener at most every `interval` seconds, and always at the end."""

    def __init__(self, listener: Listener, progress: Progress, interval: float = 0.25):
        self.listener, self.progress, self.interval = listener, progress, interval
        self._next = 0.0

    def __call__(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now >= self._next:
            self._next = now + self.interval
            self.listener(self.progress)


def frame_of(offset: int) -> int:
    """Every frame but the last holds exactly FRAME_SIZE bytes of the stream."""
    return offset // FRAME_SIZE


@dataclass(frozen=True)
class TarProblem:
    """One path tar could not read fully; the archive holds the rest."""

    path: str  # inside the archived filesystem, "/" first
    what: str  # "left out" | "may be inconsistent"
    why: str  # tar's own words


# GNU tar's per-file warnings and errors on --create (tar 1.34): after any of them tar goes on
# and writes the rest. Exit code 1 ("some files differ") or 2 (errors); any other line is fatal.
_INCONSISTENT = r"file changed as we read it|File shrank by \d+ bytes?; padding with zeros"
_LEFT_OUT = (r"File removed before we read it|Cannot open: .*|Cannot stat: .*|"
             r"Cannot savedir: .*|Cannot readlink: .*|Read error at byte .*")
# tar names itself as it was started: "/usr/bin/tar: ./etc/x: ..." when run by its full path.
_PER_PATH = re.compile(rf"^\S*tar: (?P<path>.+?): (?P<why>{_INCONSISTENT}|{_LEFT_OUT})$")
_INCONSISTENT_RE = re.compile(_INCONSISTENT)
_TAR_SUMMARY = re.compile(r"^\S*tar: Exiting with failure status due to previous errors$")


def tar_problems(returncode: int, stderr: str) -> tuple[list[TarProblem], list[str]]:
    """(the paths tar could not read fully, the lines that say something else) of a tar
    --create run in "." of a filesystem. With exit code 1 or 2 and no other line, the archive
    is whole but for those paths."""
    problems, other = [], []
    for line in stderr.splitlines():
        found = _PER_PATH.match(line)
        if found and returncode in (1, 2):
            path = found["path"]
            path = "/" + path[2:] if path.startswith("./") else ("/" if path == "." else path)
            what = ("may be inconsistent" if _INCONSISTENT_RE.fullmatch(found["why"])
                    else "left out")
            problems.append(TarProblem(path, what, found["why"]))
        elif line.strip() and not _TAR_SUMMARY.match(line):
            other.append(line)
    return problems, other


@dataclass
class Written:
    archive: Archive
    members: list[Member]
    problems: list[TarProblem]


def write_tar_archive(root: str, set_dir: str, filename: str, *, label: str,
                      bytes_total: int, files_total: int, listener: Listener) -> Written:
    """Archives the tree at root into set_dir/filename; returns the archive and its members."""
    tar = require("tar")
    progress = Progress(f"Backing up {label}", bytes_total=bytes_total, files_total=files_total)
    tick = Throttle(listener, progress)
    scanner = TarScanner(archive=filename)
    out_path = os.path.join(set_dir, filename)
    proc = subprocess.Popen([tar, *TAR_CREATE, "-f", "-", "-C", root, "."],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    fd = proc.stdout.fileno()
    widen_pipe(fd)
    try:
        with open(out_path, "wb") as out, ReadAhead(root) as read_ahead:
            writer = SeekableWriter(out)
            while chunk := os.read(fd, READ_SIZE):
                scanner.feed(chunk)
                read_ahead.advance(scanner.pos)
                writer.write(chunk)
                progress.bytes_done = scanner.pos
                progress.files_done = len(scanner.members)
                tick()
            result = writer.close()
    finally:
        proc.stdout.close()
        stderr = proc.stderr.read().decode(errors="replace")
        proc.wait()
    problems, other = tar_problems(proc.returncode, stderr)
    if proc.returncode not in (0, 1, 2) or (proc.returncode != 0 and (other or not problems)):
        log.error("tar --create in %s: %s", root, stderr)
        reason = (other[0] if other else "") or f"exit code {proc.returncode}"
        raise RestoreError(f"Reading {label} failed: {reason}.", "The log has tar's full output.")
    if stderr.strip():
        log.warning("tar --create in %s said: %s", root, stderr)
    scanner.finish()
    tick(force=True)
    piece = Piece(file=filename, size=result.compressed_bytes, blake3=result.blake3)
    return Written(Archive(kind="tar", pieces=[piece], uncompressed_size=result.uncompressed_bytes,
                           members=len(scanner.members)), scanner.members, problems)


def write_raw_archive(device: str, size: int, set_dir: str, filename: str, *, label: str,
                      listener: Listener) -> Archive:
    """Saves the first `size` bytes of device (a partition, or a disk's boot area)."""
    progress = Progress(f"Saving {label} as an image", bytes_total=size)
    tick = Throttle(listener, progress)
    with open(device, "rb", buffering=0) as src, open(os.path.join(set_dir, filename), "wb") as out:
        writer = SeekableWriter(out)
        left = size
        while left:
            chunk = src.read(min(FRAME_SIZE, left))
            if not chunk:
                raise RestoreError(f"{device} ended after {size - left} bytes, expected {size}.")
            writer.write(chunk)
            left -= len(chunk)
            progress.bytes_done = size - left
            tick()
        result = writer.close()
    tick(force=True)
    piece = Piece(file=filename, size=result.compressed_bytes, blake3=result.blake3)
    return Archive(kind="raw", pieces=[piece], uncompressed_size=result.uncompressed_bytes)


def single_piece(archive: Archive, set_dir: str, label: str) -> str:
    if len(archive.pieces) != 1:
        raise RestoreError(f"The archive of {label} is cut into {len(archive.pieces)} pieces; "
                           "this release restores single-piece archives only.",
                           "Join the pieces with 'cat' in order, or use a later release.")
    return os.path.join(set_dir, archive.pieces[0].file)


@contextlib.contextmanager
def archive_frames(archive: Archive, medium: SetMedium | str, label: str,
                   listener: Listener) -> Iterator[Iterator[tuple[Frame, bytes]]]:
    """The archive's frames in order, decompressed: from a file (decompressed ahead on all
    cores), or, on a medium read in order only (a tape), as its stream comes."""
    if isinstance(medium, str):
        medium = DirectoryMedium(medium)
    name = archive.pieces[0].file
    single_piece(archive, medium.directory, label)
    path = medium.piece_path(name)
    if path is not None:
        with SeekableReader(path, name) as reader:
            yield reader.iter_frames()
        return
    with medium.open_piece(name, listener) as stream:
        yield ForwardReader(stream, name).iter_frames()


def tar_failed(returncode: int, stderr: bytes, doing: str, target: str) -> RestoreError:
    """The error for a tar -x that failed: its first line of stderr for the operator, all of
    it for the log."""
    log.error("tar --extract into %s: %s", target, stderr.decode(errors="replace"))
    reason = first_line(stderr) or f"exit code {returncode}"
    return RestoreError(f"{doing} failed: {reason}.", "The log has tar's full output.")


class _PipeFeeder:
    """Writes to tar's stdin from a thread of its own, a few frames behind the scanner, so
    tar never waits while we scan and hash, and we do not wait while tar creates files."""

    def __init__(self, pipe, depth: int = 4):
        self._pipe = pipe
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._broken = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tar-feeder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._broken.is_set():
                continue  # drain, so put() never blocks on a dead reader
            try:
                self._pipe.write(data)
            except (BrokenPipeError, ValueError):
                self._broken.set()

    def put(self, data) -> bool:
        """Queues data for tar; False once tar has stopped reading."""
        if self._broken.is_set():
            return False
        self._queue.put(data)
        return True

    def close(self) -> None:
        """Waits until everything queued is written, then closes tar's stdin."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        try:
            self._pipe.close()
        except BrokenPipeError:
            pass


@contextlib.contextmanager
def tar_extractor(target: str, doing: str, options: Sequence[str] = ()) -> Iterator[_PipeFeeder]:
    """GNU tar -x into target, fed through the yielded feeder. On leaving, tar's stdin is closed
    and its exit awaited; a failure of tar raises tar_failed, an exception inside kills tar."""
    proc = subprocess.Popen([require("tar"), *TAR_EXTRACT, *options, "-f", "-", "-C", target],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    widen_pipe(proc.stdin.fileno())
    feeder = _PipeFeeder(proc.stdin)
    try:
        yield feeder
        feeder.close()
    except BaseException:
        proc.kill()
        feeder.close()
        raise
    finally:
        stderr = proc.stderr.read()
        proc.wait()
    if proc.returncode != 0:
        raise tar_failed(proc.returncode, stderr, doing, target)


@dataclass
class Extracted:
    files: int  # entries: every member, directories and links included
    bytes: int  # of the tar stream
    file_bytes: int  # file data: the sizes of the regular files
    mismatched: list[bytes]  # paths whose content did not match the catalog's BLAKE3


def extract_tar_archive(archive: Archive, medium: SetMedium | str, target: str, *, label: str,
                        expected: Callable[[int], bytes | None], listener: Listener,
                        cancel: CancelToken | None = None) -> Extracted:
    """Extracts the archive into target with GNU tar, checking each file's BLAKE3 on the way.

    `expected(offset)` gives the catalog's BLAKE3 of the member starting at that offset. A set
    `cancel` stops it between two frames (tar is killed; what it wrote stays).
    """
    progress = Progress(f"Restoring {label}", bytes_total=archive.uncompressed_size,
                        files_total=archive.members)
    tick = Throttle(listener, progress)
    scanner = TarScanner(archive=archive.pieces[0].file)
    mismatched: list[bytes] = []
    checked = file_bytes = 0
    with tar_extractor(target, f"Extracting {label}") as feeder, \
            archive_frames(archive, medium, label, listener) as frames:
        for _frame, data in frames:
            stop_if_cancelled(cancel)
            # Scan before tar sees the bytes: an unsafe name stops us before it is written.
            scanner.feed(data)
            if not feeder.put(data):
                break  # tar stopped reading: its exit status says why
            members = scanner.members
            for member in members[checked:]:
                if member.blake3 is not None and member.blake3 != expected(member.offset):
                    mismatched.append(member.path)
                if member.kind == "file":
                    file_bytes += member.size
            checked = len(members)
            progress.bytes_done = scanner.pos
            progress.files_done = checked
            progress.current = members[-1].path.decode(errors="replace") if members else ""
            tick()
        scanner.finish()
    tick(force=True)
    return Extracted(files=checked, bytes=scanner.pos, file_bytes=file_bytes,
                     mismatched=mismatched)


def extract_raw_archive(archive: Archive, medium: SetMedium | str, device: str, *, label: str,
                        listener: Listener, spans: list[tuple[int, int]] | None = None,
                        cancel: CancelToken | None = None) -> int:
    """Writes a raw archive onto device; `spans` limits the write to (start, end) byte ranges.
    A set `cancel` stops it between two frames."""
    progress = Progress(f"Writing {label}", bytes_total=archive.uncompressed_size)
    tick = Throttle(listener, progress)
    with archive_frames(archive, medium, label, listener) as frames, \
            open(device, "r+b", buffering=0) as out:
        for frame, data in frames:
            stop_if_cancelled(cancel)
            for start, end in spans or [(0, len(data) + frame.d_offset)]:
                lo, hi = max(start, frame.d_offset), min(end, frame.d_offset + len(data))
                if lo < hi:
                    out.seek(lo)
                    out.write(memoryview(data)[lo - frame.d_offset : hi - frame.d_offset])
            progress.bytes_done = frame.d_offset + len(data)
            tick()
        os.fsync(out.fileno())
    tick(force=True)
    return archive.uncompressed_size
