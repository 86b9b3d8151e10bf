"""A set on ISO 9660 volumes (CD, DVD, or images of them): how its pieces are cut to fit, and
the volume header file every volume carries.

Every volume holds, in its root: the volume header (restore-console-volume.json), the
manifest, the catalog, and the parts of the archive pieces that fall on it. A piece that fits
whole on one volume keeps its name there (fs-1.tar.zst); a piece that does not is cut into
byte ranges, each a file of its own named NAME.partK (K from 1), continued on the next volume.
Joined in order with cat, the parts are the piece, byte for byte: its BLAKE3 in the manifest
checks the join.

Pieces are cut at bytes, not at zstd frame boundaries: the seek table of a seekable zstd
archive lies at the end of the whole piece, so no part would be a seekable archive of its own
anyway; a byte cut fills each volume to the last sector; and the reader joins the parts into
one byte range that it can seek in (reading only the volumes that hold the frames it needs).
So that a reader can seek in a piece without its last volume, the header keeps each piece's
tail (the seek table of a seekable zstd archive).

Each file on ISO 9660 is one extent of at most 4 GiB - 1 byte: parts are cut below that.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from dataclasses import dataclass, field

from ..errors import RestoreError, UsageError

HEADER_FILE = "restore-console-volume.json"
ISO_FORMAT = "restore-console iso volume"
ISO_FORMAT_VERSION = 1
SECTOR = 2048
MAX_PART = 2**32 - SECTOR  # below ISO 9660's 4 GiB limit on one file section
VOLUME_SIZES = {"cd": 700 * 1024 * 1024, "dvd": 4_700_372_992}
SEEKABLE_FOOTER = struct.Struct("<IBI")
SEEKABLE_MAGIC = 0x8F92EAB1


def sectors(size: int) -> int:
    """Bytes a file of `size` bytes takes on ISO 9660."""
    return -(-size // SECTOR) * SECTOR


@dataclass(frozen=True)
class SetPiece:
    name: str
    size: int
    blake3: str
    tail: bytes = b""  # the piece's last bytes (its seek table), kept in the header


@dataclass(frozen=True)
class Part:
    """Bytes [offset, offset + size) of a piece, as file `file` on volume `volume`."""
    volume: int
    piece: str
    file: str
    offset: int
    size: int


@dataclass
class VolumeHeader:
    set_id: str
    volume: int
    volumes: int
    pieces: list[SetPiece]
    parts: list[Part]  # of the whole set, in order: a cut piece goes on in the next part
    host: str = ""
    created: str = ""
    label: str = ""
    _by_name: dict = field(default_factory=dict, repr=False, compare=False)

    def to_bytes(self) -> bytes:
        data = {"format": ISO_FORMAT, "format_version": ISO_FORMAT_VERSION,
                "set_id": self.set_id, "volume": self.volume, "volumes": self.volumes,
                "label": self.label, "host": self.host, "created": self.created,
                "pieces": [{"name": p.name, "size": p.size, "blake3": p.blake3,
                            **({"tail": base64.b64encode(p.tail).decode()} if p.tail else {})}
                           for p in self.pieces],
                "parts": [{"volume": p.volume, "piece": p.piece, "file": p.file,
                           "offset": p.offset, "size": p.size} for p in self.parts]}
        return json.dumps(data, indent=1).encode() + b"\n"

    @classmethod
    def parse(cls, raw: bytes) -> "VolumeHeader | None":
        """The header in raw; None when it is not one."""
        try:
            data = json.loads(raw)
            if data.get("format") != ISO_FORMAT:
                return None
            if data.get("format_version") != ISO_FORMAT_VERSION:
                raise RestoreError(f"The volume holds a set of ISO format version "
                                   f"{data.get('format_version')}; this console reads version "
                                   f"{ISO_FORMAT_VERSION}.",
                                   "Use the restore-console release that wrote the volumes.")
            return cls(set_id=data["set_id"], volume=data["volume"], volumes=data["volumes"],
                       pieces=[SetPiece(p["name"], p["size"], p["blake3"],
                                        base64.b64decode(p.get("tail", "")))
                               for p in data["pieces"]],
                       parts=[Part(**p) for p in data["parts"]],
                       host=data.get("host", ""), created=data.get("created", ""),
                       label=data.get("label", ""))
        except (ValueError, UnicodeDecodeError, AttributeError, KeyError, TypeError):
            return None

    def piece(self, name: str) -> SetPiece:
        if not self._by_name:
            self._by_name.update((p.name, p) for p in self.pieces)
        try:
            return self._by_name[name]
        except KeyError:
            raise RestoreError(f"The piece {name} is not on the volumes of set {self.set_id}.",
                               "The manifest and the volume header disagree: use another "
                               "copy.") from None

    def parts_of(self, name: str) -> list[Part]:
        return [p for p in self.parts if p.piece == name]

    def on_volume(self, volume: int) -> list[Part]:
        return [p for p in self.parts if p.volume == volume]

    def words(self) -> str:
        """volume 2 of 3 of set 4f1c... (host web1, made 2026-01-02T03:04:05+00:00)"""
        made = ", ".join(filter(None, [f"host {self.host}" if self.host else "",
                                       f"made {self.created}" if self.created else ""]))
        return (f"volume {self.volume} of {self.volumes} of set {self.set_id}"
                + (f" ({made})" if made else ""))


def volume_id(set_id: str, volume: int) -> str:
    """The ISO volume id (32 characters at most): RC_4F1C2A3B_2. The whole set id goes into
    the volume set id."""
    return f"RC_{set_id[:8].upper()}_{volume}"


def set_label(host: str, set_id: str) -> str:
    """The name the volume files start with: web1-4f1c2a3b (DIR/web1-4f1c2a3b-1.iso ...)."""
    host = re.sub(r"[^A-Za-z0-9_.-]+", "_", host).strip("._-") or "set"
    return f"{host}-{set_id[:8]}"


def cut_into_volumes(pieces: list[SetPiece], room: list[int] | int,
                     max_part: int = MAX_PART) -> list[Part]:
    """The parts of the pieces, in order, filling each volume: `room` is the bytes each volume
    has for parts (one number for all, or one per volume, the last repeated). Every part
    takes whole sectors on its volume."""
    rooms = [room] if isinstance(room, int) else list(room)
    if min(rooms) < SECTOR:
        raise UsageError("The volume size leaves no room for the archives beside the "
                         "manifest, the catalog, the volume's own overhead (and on volume 1 "
                         "the rescue system).", "Give a larger --volume-size.")
    parts: list[Part] = []
    volume, free = 1, rooms[0]
    for piece in pieces:
        offset = 0
        while offset < piece.size or (piece.size == 0 and offset == 0):
            if free < SECTOR:
                volume += 1
                free = rooms[min(volume, len(rooms)) - 1]
            take = min(piece.size - offset, max_part, free // SECTOR * SECTOR)
            parts.append(Part(volume, piece.name, piece.name, offset, take))
            free -= sectors(take)
            offset += take
            if piece.size == 0:
                break
    return _named(parts)


def _named(parts: list[Part]) -> list[Part]:
    """A piece in one part keeps its name; the parts of a cut piece are NAME.part1, .part2 ..."""
    counts: dict[str, int] = {}
    for part in parts:
        counts[part.piece] = counts.get(part.piece, 0) + 1
    seen: dict[str, int] = {}
    named = []
    for part in parts:
        if counts[part.piece] == 1:
            named.append(part)
            continue
        seen[part.piece] = seen.get(part.piece, 0) + 1
        named.append(Part(part.volume, part.piece, f"{part.piece}.part{seen[part.piece]}",
                          part.offset, part.size))
    return named


def seek_table_tail(path: str) -> bytes:
    """The seek table at the end of a seekable zstd file (b"" when it has none)."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        if size < SEEKABLE_FOOTER.size + 8:
            return b""
        f.seek(size - SEEKABLE_FOOTER.size)
        count, descriptor, magic = SEEKABLE_FOOTER.unpack(f.read(SEEKABLE_FOOTER.size))
        if magic != SEEKABLE_MAGIC:
            return b""
        length = 8 + count * (8 + (4 if descriptor & 0x80 else 0)) + SEEKABLE_FOOTER.size
        if length > size:
            return b""
        f.seek(size - length)
        return f.read(length)
