"""The command line as the system tests run it: a subprocess, its log in one known place."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.system.images import make_one_ext4_disk

TEST_LOG = "/tmp/restore-console-tests.log"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console", "--log", TEST_LOG, *args],
                          capture_output=True, text=True)


def cli_backup(image, set_dir):
    """`restore-console backup --disk image --to set_dir`, which must succeed; set_dir."""
    proc = cli("backup", "--disk", str(image), "--to", str(set_dir))
    assert proc.returncode == 0, proc.stderr
    return set_dir


def small_ext4_set(base: Path, size_mib: int, dirs: int, files: int,
                   grain: int) -> tuple[Path, Path, str]:
    """A one-ext4 source image holding dir-D/file-I (I * grain random bytes each), backed up
    with the CLI: (the image, the set, the set's name of the disk)."""
    source = base / "source.img"

    def fill(root) -> None:
        for d in range(dirs):
            Path(root, f"dir-{d}").mkdir()
            for i in range(files):
                Path(root, f"dir-{d}", f"file-{i}").write_bytes(os.urandom(i * grain))

    make_one_ext4_disk(source, size_mib, fill)
    set_dir = cli_backup(source, base / "set")
    name = json.loads(cli("inspect", str(set_dir), "--json").stdout)["disks"][0]["name"]
    return source, set_dir, name
