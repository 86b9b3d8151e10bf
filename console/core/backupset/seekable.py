"""Seekable zstd: independent frames of a few MiB plus the standard seek table.

The format is zstd's "seekable format" (contrib/seekable_format): ordinary zstd frames followed
by one skippable frame that lists each frame's compressed and decompressed size. `zstd -dc`
skips the table, so an archive stays restorable by hand; we use the table to read one frame
without decompressing what comes before it, and to compress and decompress frames on all cores
(zstandard releases the GIL while it works).
"""

from __future__ import annotations

import bisect
import collections
import os
import queue
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import blake3
import zstandard

from ..errors import RestoreError

FRAME_SIZE = 4 * 1024 * 1024
SKIPPABLE_MAGIC = 0x184D2A5E
SEEKABLE_MAGIC = 0x8F92EAB1
FOOTER = struct.Struct("<IBI")  # number of frames, descriptor, seekable magic
ENTRY = struct.Struct("<II")  # compressed size, decompressed size (no per-frame checksum)


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)))


@dataclass(frozen=True)
class Frame:
    index: int
    c_offset: int
    c_size: int
    d_offset: int
    d_size: int


@dataclass(frozen=True)
class WriteResult:
    compressed_bytes: int
    uncompressed_bytes: int
    blake3: str
    frames: int


class SeekableWriter:
    """Compresses a byte stream into independent frames on a thread pool, in order."""

    def __init__(self, out: BinaryIO, level: int = 3, frame_size: int = FRAME_SIZE,
                 threads: int | None = None):
        self._out = out
        self._frame_size = frame_size
        self._threads = threads or default_threads()
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="zstd")
        self._local = threading.local()
        self._level = level
        self._pending: collections.deque = collections.deque()
        self._parts: list[bytes] = []
        self._buffered = 0
        self._entries: list[tuple[int, int]] = []
        self._hash = blake3.blake3()
        self._compressed = 0
        self._uncompressed = 0

    def _compress(self, data) -> bytes:
        cctx = getattr(self._local, "cctx", None)
        if cctx is None:
            cctx = zstandard.ZstdCompressor(level=self._level, write_checksum=True,
                                            write_content_size=True)
            self._local.cctx = cctx
        return cctx.compress(data)

    def write(self, data) -> None:
        # Chunks are kept as they come and joined once a frame is full: no front-deletes.
        self._parts.append(bytes(data))
        self._buffered += len(data)
        if self._buffered >= self._frame_size:
            joined = b"".join(self._parts)
            frames = len(joined) // self._frame_size
            view = memoryview(joined)  # frames are views: no copy of each 4 MiB
            for i in range(frames):
                self._submit(view[i * self._frame_size : (i + 1) * self._frame_size])
            rest = joined[frames * self._frame_size :]
            self._parts = [rest] if rest else []
            self._buffered = len(rest)

    def _submit(self, chunk) -> None:
        self._pending.append((len(chunk), self._pool.submit(self._compress, chunk)))
        while len(self._pending) > self._threads * 2:
            self._drain_one()

    def _drain_one(self) -> None:
        d_size, future = self._pending.popleft()
        frame = future.result()
        self._out.write(frame)
        self._hash.update(frame)
        self._entries.append((len(frame), d_size))
        self._compressed += len(frame)
        self._uncompressed += d_size

    def close(self) -> WriteResult:
        try:
            if self._buffered:
                self._submit(b"".join(self._parts))
                self._parts, self._buffered = [], 0
            while self._pending:
                self._drain_one()
        finally:
            self._pool.shutdown(wait=True)
        table = b"".join(ENTRY.pack(c, d) for c, d in self._entries)
        table += FOOTER.pack(len(self._entries), 0, SEEKABLE_MAGIC)
        skippable = struct.pack("<II", SKIPPABLE_MAGIC, len(table)) + table
        self._out.write(skippable)
        self._hash.update(skippable)
        self._compressed += len(skippable)
        return WriteResult(self._compressed, self._uncompressed, self._hash.hexdigest(),
                           len(self._entries))


class SeekableReader:
    """Reads a seekable zstd file frame by frame: a path, or a file object that can seek (a
    piece across ISO volumes); `name` is used in error messages."""

    def __init__(self, path: str | BinaryIO, name: str | None = None):
        self.path = path if isinstance(path, str) else name
        self.name = name or os.path.basename(self.path)
        self._file = open(path, "rb") if isinstance(path, str) else path
        try:
            self.frames = self._read_seek_table()
        except Exception:
            self._file.close()
            raise
        self._d_offsets = [f.d_offset for f in self.frames]
        self.frames_read = 0  # compressed frames read from the file so far (tests count them)
        self.uncompressed_size = (self.frames[-1].d_offset + self.frames[-1].d_size
                                  if self.frames else 0)

    def _damaged(self, what: str) -> RestoreError:
        return RestoreError(f"The archive {self.name} is truncated or damaged: {what}.",
                            "Check the backup media, or use another copy of the set.")

    def _read_seek_table(self) -> list[Frame]:
        size = self._file.seek(0, os.SEEK_END)
        if size < FOOTER.size + 8:
            raise self._damaged("it is too short to hold a seek table")
        self._file.seek(size - FOOTER.size)
        count, descriptor, magic = FOOTER.unpack(self._file.read(FOOTER.size))
        if magic != SEEKABLE_MAGIC:
            raise self._damaged("its seek table is missing at the end")
        entry_size = ENTRY.size + (4 if descriptor & 0x80 else 0)
        table_size = count * entry_size + FOOTER.size
        if table_size + 8 > size:
            raise self._damaged("its seek table is larger than the file")
        self._file.seek(size - table_size - 8)
        magic, frame_size = struct.unpack("<II", self._file.read(8))
        if magic != SKIPPABLE_MAGIC or frame_size != table_size:
            raise self._damaged("its seek table header is wrong")
        raw = self._file.read(count * entry_size)
        frames = []
        c_off = d_off = 0
        for i in range(count):
            c_size, d_size = ENTRY.unpack_from(raw, i * entry_size)
            frames.append(Frame(i, c_off, c_size, d_off, d_size))
            c_off += c_size
            d_off += d_size
        if c_off != size - table_size - 8:
            raise self._damaged("its frames do not add up to its size")
        return frames

    def frame_at(self, d_offset: int) -> int:
        """Index of the frame holding uncompressed offset d_offset."""
        return max(0, bisect.bisect_right(self._d_offsets, d_offset) - 1)

    def _decompress(self, frame: Frame, data: bytes) -> bytes:
        try:
            out = zstandard.ZstdDecompressor().decompress(data, max_output_size=frame.d_size)
        except zstandard.ZstdError as exc:
            raise self._damaged(f"frame {frame.index} does not decompress ({exc})") from exc
        if len(out) != frame.d_size:
            raise self._damaged(f"frame {frame.index} decompresses to {len(out)} bytes, "
                                f"the seek table says {frame.d_size}")
        return out

    def iter_frames(self, start: int = 0, stop: int | None = None,
                    threads: int | None = None) -> Iterator[tuple[Frame, bytes]]:
        """Yields (frame, decompressed bytes) in order, decompressing ahead on a pool."""
        frames = self.frames[start:stop]
        threads = threads or default_threads()
        with ThreadPoolExecutor(threads, thread_name_prefix="unzstd") as pool:
            pending: collections.deque = collections.deque()
            for frame in frames:
                self._file.seek(frame.c_offset)
                data = self._file.read(frame.c_size)
                if len(data) != frame.c_size:
                    raise self._damaged(f"frame {frame.index} is cut short")
                self.frames_read += 1
                pending.append((frame, pool.submit(self._decompress, frame, data)))
                if len(pending) > threads * 2:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "SeekableReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


ZSTD_MAGIC = 0xFD2FB528
_READ_CHUNK = 1024 * 1024
_COMPACT_AT = 8 * 1024 * 1024


def _read_exactly(stream: BinaryIO, count: int) -> bytes:
    """count bytes from a stream that may return less per read (a pipe, a tape)."""
    parts = []
    while count:
        part = stream.read(count)
        if not part:
            break
        parts.append(part)
        count -= len(part)
    return b"".join(parts)


class ForwardReader:
    """Reads a seekable zstd archive front to back from a stream that cannot seek (a tape, a
    pipe): each frame's compressed bytes are read to get past it, and only the frames the
    caller wants are decompressed. The frame boundaries come from the zstd frame and block
    headers; the uncompressed size of each frame from its header (the writer records it)."""

    def __init__(self, stream: BinaryIO, name: str = "archive"):
        self._stream = stream
        self.name = name
        self.frames_decompressed = 0
        # Read in large chunks and parsed in place: a read per block header cost more than the
        # decompression.
        self._buf = bytearray()
        self._pos = 0

    def _damaged(self, what: str) -> RestoreError:
        return RestoreError(f"The archive {self.name} is truncated or damaged: {what}.",
                            "Check the backup media, or use another copy of the set.")

    def _have(self, count: int) -> bool:
        """At least count bytes buffered after the position; False when the stream ends first."""
        while len(self._buf) - self._pos < count:
            chunk = self._stream.read(max(_READ_CHUNK, count - (len(self._buf) - self._pos)))
            if not chunk:
                return False
            self._buf += chunk
        return True

    def _need(self, count: int) -> int:
        """Passes count bytes; returns where they start in the buffer."""
        if not self._have(count):
            raise self._damaged("it ends inside a frame")
        at = self._pos
        self._pos += count
        return at

    def _frame(self) -> tuple[bytes, int | None]:
        """The zstd frame at the position: (whole frame, content size if recorded)."""
        buf, start = self._buf, self._pos
        self._pos += 4  # the magic, checked by the caller
        fhd = buf[self._need(1)]
        single_segment = bool(fhd & 0x20)
        fcs_size = {0: 1 if single_segment else 0, 1: 2, 2: 4, 3: 8}[fhd >> 6]
        dict_size = {0: 0, 1: 1, 2: 2, 3: 4}[fhd & 3]
        length = (0 if single_segment else 1) + dict_size + fcs_size
        at = self._need(length)
        content_size = None
        if fcs_size:
            content_size = int.from_bytes(buf[at + length - fcs_size : at + length], "little")
            if fcs_size == 2:
                content_size += 256
        while True:
            at = self._need(3)
            value = int.from_bytes(buf[at : at + 3], "little")
            last, block_type, block_size = value & 1, (value >> 1) & 3, value >> 3
            if block_type == 3:
                raise self._damaged("a zstd block has a reserved type")
            self._need(1 if block_type == 1 else block_size)
            if last:
                break
        if fhd & 0x04:
            self._need(4)
        return bytes(buf[start : self._pos]), content_size

    def _raw_frames(self) -> Iterator[tuple[int, bytes, int | None]]:
        """(compressed offset, the whole zstd frame, its content size if recorded), in order;
        skippable frames (the seek table) are passed over."""
        c_offset = 0
        while True:
            if self._pos >= _COMPACT_AT:  # between frames: nothing before the position is needed
                del self._buf[: self._pos]
                self._pos = 0
            if not self._have(4):
                if len(self._buf) == self._pos:
                    return
                raise self._damaged("it ends inside a frame header")
            magic = int.from_bytes(self._buf[self._pos : self._pos + 4], "little")
            if magic & 0xFFFFFFF0 == 0x184D2A50:
                self._pos += 4
                at = self._need(4)
                size = int.from_bytes(self._buf[at : at + 4], "little")
                self._need(size)
                c_offset += 8 + size
                continue
            if magic != ZSTD_MAGIC:
                raise self._damaged(f"no zstd frame at byte {c_offset}")
            raw, content_size = self._frame()
            yield c_offset, raw, content_size
            c_offset += len(raw)

    def _decompress(self, index: int, raw: bytes, content_size: int | None) -> bytes:
        try:
            return zstandard.ZstdDecompressor().decompress(
                raw, max_output_size=content_size or FRAME_SIZE * 64)
        except zstandard.ZstdError as exc:
            raise self._damaged(f"frame {index} does not decompress ({exc})") from exc

    def frames(self, wanted) -> Iterator[tuple[Frame, bytes | None]]:
        """Yields (frame, decompressed bytes) in order; the bytes are None for frames where
        wanted(d_offset, d_size) is false. Stops at the end of the stream (the seek table, a
        skippable frame, is passed over)."""
        d_offset = 0
        for index, (c_offset, raw, content_size) in enumerate(self._raw_frames()):
            data = None
            if content_size is None or wanted(d_offset, content_size):
                data = self._decompress(index, raw, content_size)
                self.frames_decompressed += 1
                content_size = len(data)
            yield Frame(index, c_offset, len(raw), d_offset, content_size), data
            d_offset += content_size

    def iter_frames(self, threads: int | None = None) -> Iterator[tuple[Frame, bytes]]:
        """Every frame, in order: a thread of its own reads the stream and cuts it into frames,
        a pool decompresses them ahead (a whole restore from tape: as fast as from a file)."""
        threads = threads or default_threads()
        ahead: queue.Queue = queue.Queue(maxsize=threads * 2)
        stop = threading.Event()

        def put(item) -> bool:
            while not stop.is_set():
                try:
                    ahead.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        with ThreadPoolExecutor(threads, thread_name_prefix="unzstd") as pool:
            def read() -> None:
                try:
                    for index, (c_offset, raw, size) in enumerate(self._raw_frames()):
                        future = pool.submit(self._decompress, index, raw, size)
                        if not put((index, c_offset, len(raw), future)):
                            return
                    put(None)
                except BaseException as exc:  # raised again where the frames are taken
                    put(exc)

            reader = threading.Thread(target=read, name="stream-frames", daemon=True)
            reader.start()
            try:
                d_offset = 0
                while (item := ahead.get()) is not None:
                    if isinstance(item, BaseException):
                        raise item
                    index, c_offset, c_size, future = item
                    data = future.result()
                    self.frames_decompressed += 1
                    yield Frame(index, c_offset, c_size, d_offset, len(data)), data
                    d_offset += len(data)
            finally:
                stop.set()
                # A reader waiting for an answer (the next volume) is left to end by itself.
                reader.join(timeout=5)
