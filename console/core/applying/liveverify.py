"""The metadata verify of a restored filesystem, done while tar is still extracting it.

GNU tar extracts in the stream's order and sets a member's times last, so a member that matches
its catalogue row has been finished by tar. A child process (its own interpreter: no GIL shared
with the scanner that feeds tar) walks the rows in that order, a step behind tar: a row that
does not match yet is waited for, until the restore says the extraction is over; from then on
what does not match is a difference. Directories are checked at the end, because tar sets their
times only once it has left them, and so is any other member that does not match at once (tar
makes some symlinks at its exit). Last it walks the filesystem for entries the set does not
hold (ondisk.find_extras): a freshly made filesystem has none, so that costs one walk, in the
child. On the benchmark this takes the verify (about a second after
the extraction) off the restore's time; the extraction ran no slower with it beside.

Parent side: LiveVerify. Child side: `python -m console.core.applying.liveverify`, which reads
nothing but the end of its standard input (the extraction is over) and writes one JSON result.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable

from ..backupset.catalog import Catalog
from ..layout import Filesystem
from .ondisk import TreeOfFs
from .verify import Difference, extra_differences, problems_of

log = logging.getLogger("restore_console")

WAIT = 0.05  # seconds the child waits for tar to reach a member


@dataclass
class Followed:
    checked: int
    differences: list[Difference]
    covered: int = 0  # mount points: another filesystem is mounted over them


def follow(catalog: Catalog, fs_id: int, tree: TreeOfFs, extracted: Callable[[float], bool]
           ) -> Followed:
    """Checks every member of fs_id in the tree, trailing the extraction, then walks the tree
    for what the set does not hold (extras); `extracted(timeout)` waits up to timeout seconds
    (None: until it is) and says whether the extraction is over.

    Only a regular file is waited for. The rest is checked again at the end when it does not
    match at once: tar sets a directory's times when it leaves it, and makes a symlink whose
    target is absolute or climbs out with `..` as a placeholder file, replaced at its exit."""
    rows = []
    covered = 0
    for row in catalog.metadata(fs_id):
        if tree.is_covered(row[0]):
            covered += 1
        else:
            rows.append(row)
    later = []
    over = False
    position = 0
    while position < len(rows):
        row = rows[position]
        if row[1] == "dir":
            later.append(row)
        elif problems_of(catalog, fs_id, row, tree):
            if over:
                break
            if row[1] != "file":
                later.append(row)
            else:
                over = extracted(WAIT)
                continue  # tar has not finished this one yet: look again
        position += 1
    while not over:  # tar sets the directories' times, and makes the delayed links, last
        over = extracted(None)
    differences = []
    for row in rows[position:] + later:
        for problem in problems_of(catalog, fs_id, row, tree):
            differences.append(Difference(tree.shown(row[0]), problem))
    differences += extra_differences(catalog, fs_id, tree)  # a walk of the disk, once at the end
    return Followed(checked=len(rows), differences=differences, covered=covered)


class LiveVerify:
    """Runs follow() for one filesystem in a child process while it is being extracted."""

    def __init__(self, catalog_path: str, fs: Filesystem, base: str, mountpoints: set[str]):
        self.fs = fs
        request = {"catalog": catalog_path, "fs": fs.id, "base": base,
                   "mountpoint": fs.mountpoint, "mountpoints": sorted(mountpoints)}
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [package_root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
        self._errors = tempfile.TemporaryFile()  # its stdout is read at the end only
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "console.core.applying.liveverify", json.dumps(request)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors, env=env)

    def extracted(self) -> None:
        """The extraction is over: the child checks what is left, and the directories."""
        if self._proc.stdin and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except BrokenPipeError:
                pass

    def result(self) -> Followed | None:
        """The child's result; None when it failed (the log says why; the caller checks the
        filesystem itself then)."""
        self.extracted()
        out = self._proc.stdout.read()  # the child writes its one result as it ends
        self._proc.wait()
        try:
            if self._proc.returncode != 0:
                raise ValueError(f"exit code {self._proc.returncode}")
            data = json.loads(out)
            return Followed(checked=data["checked"], differences=[
                Difference(path, what) for path, what in data["differences"]],
                covered=data["covered"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("the verify beside the extraction of %s failed (%s): %s", self.fs.title,
                        exc, self._errors_written())
            return None

    def _errors_written(self) -> str:
        self._errors.seek(0)
        return self._errors.read().decode(errors="replace")

    def stop(self) -> None:
        """Ends the child whatever its state (the restore failed or is done)."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc.stdout.close()
        self._errors.close()


def _stdin_closed(timeout: float | None) -> bool:
    readable, _, _ = select.select([sys.stdin.buffer], [], [], timeout)
    return bool(readable) and not os.read(sys.stdin.fileno(), 4096)


def main(argv: list[str]) -> int:
    request = json.loads(argv[0])
    tree = TreeOfFs.of(request["mountpoint"], request["base"], set(request["mountpoints"]))
    with Catalog(request["catalog"]) as catalog:
        followed = follow(catalog, request["fs"], tree, _stdin_closed)
    json.dump({"checked": followed.checked, "covered": followed.covered,
               "differences": [[d.path, d.what] for d in followed.differences]}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
