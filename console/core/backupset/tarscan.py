"""A streaming reader of POSIX (pax) tar headers that hashes each file's content on the way.

GNU tar writes and extracts the archives (it alone restores xattrs, ACLs and sparse files
faithfully); this scanner reads the same byte stream as it passes, in chunks of any size, and
records for every member where it starts, what it is and the BLAKE3 of its content. Sparse files
(GNU sparse format 1.0, what GNU tar writes in pax archives) are hashed as their logical
content, holes read as zeros, so a hash means the same thing whatever the archive layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import blake3

from ..errors import RestoreError

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
_ZEROS = bytes(1024 * 1024)

KINDS = {
    b"0": "file", b"\0": "file", b"7": "file", b"1": "hardlink", b"2": "symlink",
    b"3": "chardev", b"4": "blockdev", b"5": "dir", b"6": "fifo",
}
# Types whose header is followed by `size` bytes of data (as python's tarfile decides).
_DATA_TYPES = {b"0", b"\0", b"7"}
_EXTRA_TYPES = {b"x", b"g", b"L", b"K"}

_HEADER, _EXTRA, _DATA, _SPARSE_MAP, _SKIP, _END = range(6)


@dataclass(slots=True)
class Member:
    path: bytes  # "/" + path inside the filesystem; b"/" is its root directory
    kind: str
    size: int
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    link: bytes | None
    devmajor: int
    devminor: int
    offset: int  # where the member's first header (pax header included) starts in the stream
    length: int = 0  # bytes from offset to the end of its padded data
    blake3: bytes | None = None


def normalize(name: bytes) -> bytes:
    """'./etc/passwd' -> '/etc/passwd', './' -> '/'. Refuses absolute names and '..'."""
    if name.startswith(b"./"):  # how GNU tar names members: take the fast way when it is plain
        path = name[1:].rstrip(b"/")
        if b"/." not in path and b"//" not in path:
            return path or b"/"
    parts = [p for p in name.split(b"/") if p not in (b"", b".")]
    if name.startswith(b"/") or b".." in parts:
        raise RestoreError(f"The archive holds an unsafe name {name!r}: it would escape the "
                           "target directory, so nothing of it is extracted.",
                           "The set is damaged or was not written by restore-console.")
    return b"/" + b"/".join(parts)


def parent_and_name(path: bytes) -> tuple[bytes, bytes]:
    if path == b"/":
        return b"", b""
    parent, _, name = path.rpartition(b"/")
    return (parent or b"/"), name


def _number(field: bytes) -> int:
    try:  # the common case: octal digits padded with NUL or space
        return int(field.strip(b" \0"), 8)
    except ValueError:
        pass
    if field and field[0] & 0x80:  # base-256, GNU extension for large values
        value = field[0] & 0x3F
        for byte in field[1:]:
            value = (value << 8) | byte
        return -value if field[0] & 0x40 else value
    field = field.split(b"\0", 1)[0].strip()
    return int(field, 8) if field else 0


def _decimal_ns(text: bytes) -> int:
    negative = text.startswith(b"-")
    whole, _, frac = text.lstrip(b"-").partition(b".")
    ns = int(whole or b"0") * 1_000_000_000 + int((frac[:9] or b"0").ljust(9, b"0"))
    return -ns if negative else ns


def _pax_records(data: bytes) -> dict[bytes, bytes]:
    records = {}
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        if length <= 0:
            break
        key, _, value = data[space + 1 : pos + length - 1].partition(b"=")
        records[key] = value
        pos += length
    return records


def _cstring(field: bytes) -> bytes:
    return field.split(b"\0", 1)[0]


class TarScanner:
    """Feed it the tar stream in chunks; completed members collect in `members`.

    `hash_files` computes BLAKE3 of every regular file's content. `archive` names the archive in
    error messages.
    """

    def __init__(self, archive: str = "archive", hash_files: bool = True):
        self.archive = archive
        self.hash_files = hash_files
        self.members: list[Member] = []
        self.pos = 0  # stream offset of the next byte fed
        self.ended = False
        self._state = _HEADER
        self._buf = bytearray()
        self._need = BLOCK
        self._extra_kind = b""
        self._extra_size = 0
        self._pax: dict[bytes, bytes] = {}
        self._long_name: bytes | None = None
        self._long_link: bytes | None = None
        self._member_start: int | None = None
        self._member: Member | None = None
        self._hasher = None
        self._data_left = 0
        self._pad_left = 0
        self._sparse: list[tuple[int, int]] = []  # (offset, size) of each data segment
        self._sparse_real = 0
        self._logical = 0  # bytes of logical content hashed so far (sparse files)

    def _damaged(self, what: str) -> RestoreError:
        return RestoreError(f"The archive {self.archive} is damaged at byte {self.pos}: {what}.",
                            "Check the backup media, or use another copy of the set.")

    def feed(self, chunk) -> None:
        # Read-only bytes: blake3 copies a writable buffer before hashing it.
        data = chunk if isinstance(chunk, bytes) else bytes(chunk)
        view = memoryview(data)
        i, n = 0, len(view)
        while i < n:
            state = self._state
            if (state == _HEADER and not self._buf and self._member_start is None
                    and not self._pax and self._long_name is None and self._long_link is None):
                i = self._whole_members(data, view, i)
                if i >= n:
                    break
            if state == _END:
                self.pos += n - i
                return
            if state == _DATA:
                take = min(n - i, self._data_left)
                if take:
                    if self._hasher is not None:
                        if self._sparse_real < 0:
                            self._hasher.update(view[i : i + take])
                        else:
                            self._hash_data(view[i : i + take])
                    self._data_left -= take
                    i += take
                    self.pos += take
                if self._data_left == 0:
                    take = min(n - i, self._pad_left)
                    self._pad_left -= take
                    i += take
                    self.pos += take
                    if self._pad_left == 0:
                        self._finish_member()
                continue
            if state == _SKIP:
                take = min(n - i, self._need)
                self._need -= take
                i += take
                self.pos += take
                if self._need == 0:
                    self._state = _HEADER
                    self._need = BLOCK
                continue
            # _HEADER, _EXTRA and _SPARSE_MAP gather `_need` bytes, then act on them.
            if not self._buf and n - i >= self._need:
                block = bytes(view[i : i + self._need])
                i += self._need
                self.pos += self._need
            else:
                take = min(n - i, self._need - len(self._buf))
                self._buf += view[i : i + take]
                i += take
                self.pos += take
                if len(self._buf) < self._need:
                    continue
                block = bytes(self._buf)
                self._buf.clear()
            if state == _HEADER:
                self._header(block)
            elif state == _EXTRA:
                self._extra(block)
            else:
                self._sparse_map(block)

    def _whole_members(self, data: bytes, view: memoryview, i: int) -> int:
        """The fast path: plain members (an optional pax header, then a ustar header of any
        type but sparse, and their data) that lie whole in this chunk, parsed in one loop; the
        first one that does not returns to the byte-wise path at its start, which handles it
        (or says what is wrong with it). Returns where that is."""
        n = len(data)
        members = self.members
        hash_files = self.hash_files
        start = i
        try:
            while n - i >= BLOCK:
                h = data[i : i + BLOCK]
                at = i + BLOCK
                pax = None
                if h[156] == 0x78:  # "x": the member's pax header, its records, its header
                    size = int(h[124:136].rstrip(b"\0"), 8)
                    at += (size + BLOCK - 1) & ~(BLOCK - 1)
                    if h[257:262] != b"ustar" or at + BLOCK > n:
                        break
                    pax = _pax_records(data[i + BLOCK : i + BLOCK + size])
                    if b"GNU.sparse.major" in pax:
                        break
                    h = data[at : at + BLOCK]
                    at += BLOCK
                typeflag = h[156:157]
                kind = KINDS.get(typeflag)
                # End of archive, long names, a prefix field, damage: the byte-wise path.
                if kind is None or h[257:262] != b"ustar" or h[345]:
                    break
                size = int(h[124:136].rstrip(b"\0"), 8)
                if pax and b"size" in pax:
                    size = int(pax[b"size"])
                length = size if typeflag in _DATA_TYPES else 0
                end = at + ((length + BLOCK - 1) & ~(BLOCK - 1))
                if end > n:
                    break
                if pax:
                    name = pax[b"path"] if b"path" in pax else _cstring(h[0:100])
                    mtime = (_decimal_ns(pax[b"mtime"]) if b"mtime" in pax
                             else int(h[136:148].rstrip(b"\0"), 8) * 1_000_000_000)
                    uid = int(pax[b"uid"]) if b"uid" in pax else int(h[108:116].rstrip(b"\0"), 8)
                    gid = int(pax[b"gid"]) if b"gid" in pax else int(h[116:124].rstrip(b"\0"), 8)
                    link = pax[b"linkpath"] if b"linkpath" in pax else _cstring(h[157:257])
                else:
                    name = _cstring(h[0:100])
                    mtime = int(h[136:148].rstrip(b"\0"), 8) * 1_000_000_000
                    uid = int(h[108:116].rstrip(b"\0"), 8)
                    gid = int(h[116:124].rstrip(b"\0"), 8)
                    link = _cstring(h[157:257])
                if kind == "hardlink":
                    link = normalize(link)
                elif kind != "symlink":
                    link = None
                device = kind == "chardev" or kind == "blockdev"
                member = Member(
                    normalize(name), kind, size if kind == "file" else 0,
                    int(h[100:108].rstrip(b"\0"), 8) & 0o7777, uid, gid, mtime, link,
                    _number(h[329:337]) if device else 0,
                    _number(h[337:345]) if device else 0,
                    self.pos + (i - start), end - i,
                    blake3.blake3(view[at : at + length]).digest()
                    if hash_files and kind == "file" else None,
                )
                members.append(member)
                i = end
        except ValueError:
            pass  # a field the quick parse does not take (base-256, spaces): byte-wise path
        self.pos += i - start
        return i

    def _header(self, h: bytes) -> None:
        start = self.pos - BLOCK
        if h == ZERO_BLOCK:
            self.ended = True
            self._state = _END
            return
        # Not the header checksum (summing 512 bytes in Python costs a third of the scan):
        # the bytes are already covered by each zstd frame's checksum and by the piece's BLAKE3;
        # the magic catches a scan that lost its place.
        if h[257:262] != b"ustar":
            raise self._damaged("a header is not where one should be")
        if self._member_start is None:
            self._member_start = start
        typeflag = h[156:157]
        size = _number(h[124:136])
        if typeflag in _EXTRA_TYPES:
            self._extra_kind = typeflag
            self._extra_size = size
            self._need = -(-size // BLOCK) * BLOCK
            self._state = _EXTRA if self._need else _HEADER
            if not self._need:
                self._need = BLOCK
            return
        pax, self._pax = self._pax, {}
        if h[345] and h[257:263] == b"ustar\0" and self._long_name is None:  # POSIX prefix field
            name = _cstring(h[345:500]) + b"/" + _cstring(h[0:100])
        else:
            name = self._long_name or _cstring(h[0:100])
        link = self._long_link or _cstring(h[157:257])
        self._long_name = self._long_link = None
        name = pax.get(b"path", name)
        link = pax.get(b"linkpath", link)
        if b"size" in pax:
            size = int(pax[b"size"])
        kind = KINDS.get(typeflag)
        if kind is None:
            raise self._damaged(f"member {name!r} has the unknown type {typeflag!r}")
        sparse = pax.get(b"GNU.sparse.major")
        if sparse is not None:
            if sparse != b"1" or pax.get(b"GNU.sparse.minor", b"0") != b"0":
                raise self._damaged(f"member {name!r} uses an unsupported sparse format")
            name = pax.get(b"GNU.sparse.name", name)
        mtime = (_decimal_ns(pax[b"mtime"]) if b"mtime" in pax
                 else _number(h[136:148]) * 1_000_000_000)
        if kind == "hardlink":
            link = normalize(link)
        elif kind != "symlink":
            link = None
        device = kind == "chardev" or kind == "blockdev"
        member = Member(  # positional: this runs once per member
            normalize(name), kind, size if kind == "file" else 0,
            _number(h[100:108]) & 0o7777,
            int(pax[b"uid"]) if b"uid" in pax else _number(h[108:116]),
            int(pax[b"gid"]) if b"gid" in pax else _number(h[116:124]),
            mtime, link,
            _number(h[329:337]) if device else 0,
            _number(h[337:345]) if device else 0,
            self._member_start,
        )
        self._member = member
        data = size if typeflag in _DATA_TYPES else 0
        self._data_left = data
        self._pad_left = -(-data // BLOCK) * BLOCK - data
        self._hasher = blake3.blake3() if (self.hash_files and kind == "file") else None
        if sparse is not None:
            self._sparse_real = int(pax[b"GNU.sparse.realsize"])
            member.size = self._sparse_real
            self._sparse = []
            self._logical = 0
            self._state = _SPARSE_MAP
            self._need = BLOCK
            self._map_text = b""
            return
        self._sparse_real = -1
        if data == 0:
            self._finish_member()
        else:
            self._state = _DATA

    def _extra(self, data: bytes) -> None:
        payload = data[: self._extra_size]
        if self._extra_kind == b"x":
            try:
                self._pax.update(_pax_records(payload))
            except ValueError as exc:
                raise self._damaged("an extended header is malformed") from exc
        elif self._extra_kind == b"L":
            self._long_name = payload.rstrip(b"\0")
        elif self._extra_kind == b"K":
            self._long_link = payload.rstrip(b"\0")
        self._state = _HEADER
        self._need = BLOCK

    def _sparse_map(self, block: bytes) -> None:
        # The map is decimal numbers, one a line: count, then offset and size of each segment,
        # padded with NULs to whole blocks; the segments' data follows.
        self._map_text += block
        self._data_left -= BLOCK
        numbers = self._map_text.split(b"\n")
        complete = numbers[:-1]
        if complete:
            count = int(complete[0])
            if len(complete) >= 1 + 2 * count:
                values = [int(x) for x in complete[1 : 1 + 2 * count]]
                self._sparse = list(zip(values[0::2], values[1::2]))
                self._segment = 0
                self._segment_left = self._sparse[0][1] if self._sparse else 0
                self._map_text = b""
                self._start_segment()
                if self._data_left <= 0:
                    self._data_left = 0
                    self._state = _DATA
                    if self._pad_left == 0:
                        self._finish_member()
                else:
                    self._state = _DATA
                return
        if self._data_left <= 0:
            raise self._damaged("a sparse file's map is cut short")
        self._need = BLOCK

    def _start_segment(self) -> None:
        """Hash the hole before the current segment (and skip empty segments)."""
        while self._segment < len(self._sparse):
            offset, size = self._sparse[self._segment]
            self._zeros(offset - self._logical)
            if size:
                self._segment_left = size
                return
            self._segment += 1

    def _zeros(self, count: int) -> None:
        if self._hasher is None or count <= 0:
            self._logical += max(count, 0)
            return
        self._logical += count
        while count > 0:
            step = min(count, len(_ZEROS))
            self._hasher.update(_ZEROS[:step] if step < len(_ZEROS) else _ZEROS)
            count -= step

    def _hash_data(self, data) -> None:
        if self._sparse_real < 0:
            self._hasher.update(data)
            return
        pos = 0
        while pos < len(data) and self._segment < len(self._sparse):
            take = min(len(data) - pos, self._segment_left)
            self._hasher.update(data[pos : pos + take])
            self._logical += take
            self._segment_left -= take
            pos += take
            if self._segment_left == 0:
                self._segment += 1
                self._start_segment()

    def _finish_member(self) -> None:
        member = self._member
        if self._hasher is not None:
            if self._sparse_real >= 0:
                self._zeros(self._sparse_real - self._logical)
            member.blake3 = self._hasher.digest()
        member.length = self.pos - member.offset
        self.members.append(member)
        self._member = None
        self._hasher = None
        self._member_start = None
        self._state = _HEADER
        self._need = BLOCK

    def finish(self) -> None:
        """Call at the end of the stream: complains if it stopped inside a member."""
        if self._state not in (_HEADER, _END) or self._buf or self._member_start is not None:
            raise self._damaged("the stream ends in the middle of a member (truncated)")
        if not self.ended:
            raise self._damaged("the end-of-archive marker is missing (truncated)")
