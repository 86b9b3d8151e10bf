"""A real tree made into what a backup makes of it: GNU tar's pax stream and a catalog."""

from __future__ import annotations

import subprocess
from pathlib import Path

from console.core.backupset.archive import TAR_CREATE, frame_of
from console.core.backupset.catalog import CatalogWriter
from console.core.backupset.tarscan import TarScanner


def catalogue(tree: Path, catalog_path: Path, fs_id: int = 1) -> bytes:
    """Archives tree as a backup does, writes its members as filesystem fs_id's rows of a new
    catalog at catalog_path, and returns the stream."""
    stream = subprocess.run(["tar", *TAR_CREATE, "-f", "-", "-C", str(tree), "."],
                            capture_output=True, check=True).stdout
    scanner = TarScanner()
    scanner.feed(stream)
    scanner.finish()
    writer = CatalogWriter(str(catalog_path))
    writer.add(fs_id, scanner.members, frame_of)
    writer.close()
    return stream
