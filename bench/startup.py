#!/usr/bin/env python3
"""restore-console startup: time from process start to the first painted screen, on the demo.

    sudo .venv/bin/python bench/startup.py [--repeat 7]

Each run starts `python -m console --demo` on a pseudo-terminal of 80x24 and stops the clock when
the start screen's actions have been written to the terminal; then it quits the app (untimed).
The baseline is `python -c pass` on the same kind of terminal, in the same run, alternating.
Goal: at most 1.0 s more than the baseline (median of the runs, after one warm-up each; the
warm-up also makes the demo set if it is not there yet).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
GOAL_SECONDS = 1.0
PAINTED = "Restore the whole machine"  # an action of the start screen: it is on the screen
_ESCAPES = re.compile(rb"\x1b\[[0-9;?<>]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]|\x1b\][^\x07]*\x07")


class BenchError(Exception):
    pass


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _spawn(argv: list[str]) -> tuple[int, int, float]:
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(REPO)
        os.environ["TERM"] = "xterm-256color"
        os.execv(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    return pid, fd, started


def _read(fd: int, timeout: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return b""
    try:
        return os.read(fd, 65536)
    except OSError:  # the child closed the terminal
        return b""


def _reap(pid: int, fd: int, seconds: float = 10.0) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _read(fd, 0.05)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            os.close(fd)
            return os.waitstatus_to_exitcode(status)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(fd)
    raise BenchError(f"process {pid} did not end within {seconds} s")


def console_start(log: str, timeout: float = 120.0) -> float:
    """Seconds from fork to the start screen's actions on the terminal."""
    pid, fd, started = _spawn([sys.executable, "-m", "console", "--demo", "--log", log])
    seen = b""
    try:
        while True:
            chunk = _read(fd, 0.5)
            seen += chunk
            if PAINTED.encode() in _ESCAPES.sub(b"", seen):
                painted = time.perf_counter() - started
                break
            if time.perf_counter() - started > timeout:
                raise BenchError(f"no start screen within {timeout} s; the terminal showed: "
                                 f"{_ESCAPES.sub(b'', seen)[-400:]!r}")
            if not chunk and os.waitpid(pid, os.WNOHANG)[0]:
                raise BenchError("restore-console ended before painting: "
                                 f"{_ESCAPES.sub(b'', seen)[-400:]!r}")
        os.write(fd, b"\x11")  # Ctrl-Q: quit
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        raise
    code = _reap(pid, fd)
    if code != 0:
        raise BenchError(f"restore-console exited with {code} after quitting")
    return painted


def python_pass() -> float:
    pid, fd, started = _spawn([sys.executable, "-c", "pass"])
    while os.waitpid(pid, os.WNOHANG)[0] == 0:
        _read(fd, 0.001)
    seconds = time.perf_counter() - started
    os.close(fd)
    return seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=7, help="measured runs of each side")
    p.add_argument("--strict", action="store_true", help="exit 3 when the goal is not met")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    if os.geteuid() != 0:
        say("not root: the demo must have been made before (sudo make demo)")
    with tempfile.TemporaryDirectory(prefix="restore-console-bench-") as work:
        log = os.path.join(work, "restore-console.log")
        try:
            say("warm-up (makes the demo set if it is not there yet)")
            warm = console_start(log, timeout=600), python_pass()
            say(f"warm-up: console {warm[0]:.2f} s, python -c pass {warm[1]:.3f} s")
            ours, base = [], []
            for i in range(args.repeat):
                order = [("ours", lambda: console_start(log)), ("baseline", python_pass)]
                if i % 2:
                    order.reverse()
                for who, run in order:
                    (ours if who == "ours" else base).append(run())
                say(f"run {i + 1}/{args.repeat}: console {ours[-1]:.2f} s, "
                    f"python -c pass {base[-1]:.3f} s")
        except BenchError as exc:
            print(f"bench failed: {exc}", file=sys.stderr)
            return 1
    ours_median, base_median = statistics.median(ours), statistics.median(base)
    extra = ours_median - base_median
    rows = [("name", "ours", "baseline", "difference", "goal", "result"),
            ("start to first screen (median)", f"{ours_median:.2f} s", f"{base_median:.3f} s",
             f"+{extra:.2f} s", f"<= +{GOAL_SECONDS:.2f} s",
             "PASS" if extra <= GOAL_SECONDS else "ABOVE"),
            ("start to first screen (best)", f"{min(ours):.2f} s", f"{min(base):.3f} s",
             f"+{min(ours) - min(base):.2f} s", "", "info")]
    print()
    print(f"restore-console startup benchmark: `python -m console --demo` on an 80x24 "
          f"pseudo-terminal until the start screen is painted, against `python -c pass`; "
          f"median of {args.repeat} alternating runs after one warm-up each")
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print(f"load average: {os.getloadavg()[0]:.2f}")
    return 3 if args.strict and extra > GOAL_SECONDS else 0


if __name__ == "__main__":
    sys.exit(main())
