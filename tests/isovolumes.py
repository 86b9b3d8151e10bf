"""Small sets of ISO volumes written with xorriso for tests: random pieces cut across volumes
of a few MiB, read back through the real IsoMedium (no kernel iso9660 needed)."""

from __future__ import annotations

import random
from pathlib import Path

import blake3

from console.core.media.isolayout import SetPiece
from console.core.media.isowriter import IsoSetWriter, StagedPiece

MiB = 1024 * 1024


def write_volumes(base: Path, set_id: str, *, host: str = "web1", seed: int = 3,
                  sizes: dict[str, int] | None = None, volume_size: int = 4 * MiB
                  ) -> tuple[list[Path], dict[str, bytes]]:
    """The volumes' paths (volume 1 first) and the pieces' contents by name."""
    staged = base / "set"
    staged.mkdir(parents=True)
    (staged / "manifest.json").write_text('{"set_id": "%s"}\n' % set_id)
    (staged / "catalog.sqlite").write_bytes(b"SQLite format 3\0" + bytes(4080))
    rng = random.Random(seed)
    sizes = sizes or {"fs-1.img.zst": MiB + 17, "fs-2.tar.zst": 4 * MiB}
    data, pieces = {}, []
    for name, size in sizes.items():
        content = data[name] = rng.randbytes(size)
        (staged / name).write_bytes(content)
        pieces.append(StagedPiece(SetPiece(name, size, blake3.blake3(content).hexdigest()),
                                  str(staged / name)))
    paths = IsoSetWriter(str(base / "discs"), str(staged), set_id=set_id, host=host,
                         created="2026-01-02T03:04:05+00:00", pieces=pieces,
                         volume_size=volume_size).write()
    return [Path(p) for p in paths], data
