"""Writing a filesystem's data to its disk while it is being restored, not all at the end.

With the page cache of a large machine, little of a restore reaches the disk before the
unmount, which then writes it all while the operator waits. Worse, the extraction itself runs
slower with a GiB of dirty pages behind it: on the benchmark's tree (1 GiB in 100,000 files),
`zstd -dc | tar -x` took 12.6-12.9 s, and 10.0-11.2 s with `sync -f` run in a loop beside it.
So a thread calls syncfs over and over while the archive is extracted, and once more when it is
done. syncfs also reports a write error, which the unmount would not. A backup does the same
for the filesystem that receives the set, so that the set is on its disk before its manifest.
"""

from __future__ import annotations

import os
import threading
from typing import Callable

from ..errors import RestoreError
from .blockdev import syncfs

# Between two syncfs calls; each call lasts as long as its writing, so a slow disk is asked
# less often by itself.
PAUSE = 0.1


RESTORE_HINT = ("The target disk may be failing: check the kernel log (dmesg), then restore "
                "onto another disk.")


class WriteBack:
    """Writes out the filesystem mounted at `where` (or holding that directory) on a thread of
    its own until finished. `what` names the data in an error: "the restored ext4 /"."""

    def __init__(self, where: str, what: str, hint: str = RESTORE_HINT, pause: float = PAUSE):
        self.what, self.hint = what, hint
        self.error: OSError | None = None
        # Called on the thread once the last syncfs, after finish(), has succeeded: then all
        # that was written is on the disk. Set it before finish().
        self.on_written: Callable[[], None] | None = None
        self.calls = 0
        self._pause = pause
        self._finished = threading.Event()
        self._fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY)
        self._thread = threading.Thread(target=self._run, name="write-back", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            last = self._finished.is_set()  # read before the call: its data is covered by it
            try:
                syncfs(self._fd)
            except OSError as exc:
                self.error = exc  # the disk is failing: asking again would not help
                return
            finally:
                self.calls += 1
            if last:
                if self.on_written is not None:
                    self.on_written()
                return
            self._finished.wait(self._pause)

    def finish(self) -> None:
        """Nothing more will be written: one last syncfs, and the thread ends."""
        self._finished.set()

    def wait(self) -> None:
        """Finishes, joins the thread and lets go of the mount (an open descriptor would keep
        it busy). Safe to call more than once."""
        self.finish()
        self._thread.join()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def check(self) -> None:
        """Waits, then raises the write error the filesystem met, in words."""
        self.wait()
        if self.error is not None:
            raise RestoreError(f"Writing {self.what} to its disk failed: "
                               f"{self.error.strerror}.", self.hint)


def written_out(where: str, what: str) -> None:
    """Writes out the filesystem mounted at where, now; raises its write error in words."""
    write_back = WriteBack(where, what)
    write_back.finish()
    write_back.check()
