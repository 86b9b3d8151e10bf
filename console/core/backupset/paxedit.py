"""Giving one archived member a new name or a new link target, by rewriting its pax header.

A partial restore can select a hard link without the file it links to: the file's bytes are
then sent to tar under the link's name (the content and, since they share an inode, all its
metadata), and further links to it point at that name. Only the headers change: a member's
extended (pax) records are merged, the `path`, `linkpath` and `GNU.sparse.name` records set,
and written back as one pax header in front of the member's unchanged ustar header; tar takes
the pax records over the ustar fields.
"""

from __future__ import annotations

from ..errors import RestoreError
from .tarscan import BLOCK, _number, _pax_records

_EXTENSIONS = {b"x", b"g", b"L", b"K"}


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def pax_records(records: dict[bytes, bytes]) -> bytes:
    """Serializes records as "LENGTH key=value\\n", LENGTH counting its own digits."""
    out = []
    for key, value in records.items():
        body = b" " + key + b"=" + value + b"\n"
        length = len(body) + 1
        while len(str(length)) + len(body) != length:
            length = len(str(length)) + len(body)
        out.append(str(length).encode() + body)
    return b"".join(out)


def pax_header(records: dict[bytes, bytes]) -> bytes:
    """A complete 'x' extended header (its block and its padded data)."""
    data = pax_records(records)
    block = bytearray(BLOCK)
    name = b"./PaxHeaders/restore-console"
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    block[124:136] = b"%011o\0" % len(data)
    block[136:148] = b"00000000000\0"
    block[148:156] = b" " * 8
    block[156:157] = b"x"
    block[257:265] = b"ustar\x0000"
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block) + data + bytes(_padded(len(data)) - len(data))


class HeaderRewriter:
    """Fed one member's bytes in pieces; gives them back with new name and link records.

    `changes` maps pax keys to new values; `GNU.sparse.name` is set as well as `path` when the
    member is a sparse file (GNU tar takes the name from it).
    """

    def __init__(self, changes: dict[bytes, bytes], what: str = "a member"):
        self._changes = changes
        self._what = what
        self._buf = bytearray()
        self._done = False

    def _header_length(self) -> int | None:
        """Bytes of extension headers plus the main header, once enough has arrived."""
        pos = 0
        buf = self._buf
        while len(buf) >= pos + BLOCK:
            block = buf[pos : pos + BLOCK]
            if block[257:262] != b"ustar":
                raise RestoreError(f"The archive is damaged: {self._what} has no valid header.",
                                   "Use another copy of the set.")
            kind = bytes(block[156:157])
            if kind not in _EXTENSIONS:
                return pos + BLOCK
            pos += BLOCK + _padded(_number(bytes(block[124:136])))
        return None

    def _rewrite(self, length: int) -> bytes:
        buf = bytes(self._buf[:length])
        records: dict[bytes, bytes] = {}
        pos = 0
        while True:
            block = buf[pos : pos + BLOCK]
            kind = block[156:157]
            if kind not in _EXTENSIONS:
                break
            size = _number(block[124:136])
            data = buf[pos + BLOCK : pos + BLOCK + size]
            if kind == b"x":
                records.update(_pax_records(data))
            elif kind == b"L":
                records[b"path"] = data.rstrip(b"\0")
            elif kind == b"K":
                records[b"linkpath"] = data.rstrip(b"\0")
            pos += BLOCK + _padded(size)
        changes = dict(self._changes)
        if b"GNU.sparse.name" in records and b"path" in changes:
            changes[b"GNU.sparse.name"] = changes.pop(b"path")
        records.update(changes)
        return pax_header(records) + block

    def feed(self, chunk) -> bytes:
        """The bytes to send on: nothing until the headers are complete, then all of it."""
        if self._done:
            return bytes(chunk)
        self._buf += chunk
        length = self._header_length()
        if length is None:
            return b""
        self._done = True
        head = self._rewrite(length)
        rest = bytes(self._buf[length:])
        self._buf.clear()
        return head + rest
