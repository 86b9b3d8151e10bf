"""Running the restored system's own tools inside it: chroot with /dev, /proc, /sys and /run.

/dev and /sys are bound recursively (devpts, efivarfs under them) and made slaves, so that
unmounting them recursively never reaches this system's own mounts.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence

from ..errors import RestoreError
from ..system import first_line, run

log = logging.getLogger("restore_console")
TOOLS = ("chroot", "mount", "umount")  # run here; the rescue image carries them
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# What a tool in the restored system needs of the running one: devices (the target disk),
# processes and mounts, sysfs (probing, EFI variables), and /run (udev's database).
_SYSTEM_MOUNTS = (("/dev", "dev", ["--rbind"]), ("proc", "proc", ["-t", "proc"]),
                  ("/sys", "sys", ["--rbind"]), ("/run", "run", ["--bind"]))


def _unmount_tree(where: str) -> None:
    run(["umount", "-R", where], f"unmount {where}", check=False)
    if os.path.ismount(where):
        run(["umount", "-R", "-l", where], f"unmount {where}")


@contextlib.contextmanager
def system_mounts(root: str) -> Iterator[str]:
    """/dev, /proc, /sys and /run mounted inside root; all unmounted on every way out."""
    with contextlib.ExitStack() as stack:
        for source, name, how in _SYSTEM_MOUNTS:
            where = os.path.join(root, name)
            if not os.path.isdir(where):
                os.makedirs(where, mode=0o755)
            run(["mount", *how, source, where], f"mount {source} inside the restored system")
            stack.callback(_unmount_tree, where)
            if "--rbind" in how:
                run(["mount", "--make-rslave", where], f"make {where} a slave mount")
        yield root


def resolve_inside(root: str, path: str, depth: int = 0) -> str | None:
    """path as the restored system sees it, its symlinks followed inside root (an absolute
    link is relative to root, never to this system); None when a link loops."""
    current = "/"
    for part in [p for p in path.split("/") if p]:
        candidate = os.path.normpath(os.path.join(current, part))
        full = root + candidate
        if os.path.islink(full):
            if depth > 40:
                return None
            link = os.readlink(full)
            target = link if link.startswith("/") else os.path.join(current, link)
            resolved = resolve_inside(root, os.path.normpath(target), depth + 1)
            if resolved is None:
                return None
            current = resolved
        else:
            current = candidate
    return current


def tool_inside(root: str, *paths: str) -> str | None:
    """The first of paths that is an executable file in the restored system; None if none."""
    for path in paths:
        resolved = resolve_inside(root, path)
        if resolved is not None:
            full = root + resolved
            if os.path.isfile(full) and os.access(full, os.X_OK):
                return path
    return None


def run_inside(root: str, argv: Sequence[str], what: str) -> str:
    """Runs argv in the restored system (chroot); its output. A failure says `what` failed."""
    # The restored system's own search path, not this one's.
    proc = run(["chroot", root, "/usr/bin/env", f"PATH={_PATH}", *argv], what, check=False)
    if proc.returncode != 0:
        reason = _error_line(proc.stderr) or f"exit code {proc.returncode}"
        log.error("%s failed in the restored system: %s\n%s%s", what, " ".join(argv),
                  proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))
        raise RestoreError(f"Could not {what}: {' '.join(argv)} in the restored system said: "
                           f"{reason}.", "The log has its full output.")
    log.info("%s: %s\n%s", what, " ".join(argv), proc.stderr.decode(errors="replace"))
    return proc.stdout.decode(errors="replace")


def _error_line(stderr: bytes) -> str:
    """The line that says the error (grub-install: error: ...), else the first line: tools
    print what they are doing and warnings before it."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors[-1] if errors else first_line(stderr)).rstrip(".")
