"""SIGTERM and SIGHUP end the console cleanly in any state: `restore-console --demo` runs on a
pseudo-terminal (TERM=xterm, 80x24), is driven by keys into a restore that holds its target
attached and mounted, or into the expert shell in the restored system, and is signalled there.
It must exit with 128 + the signal's number, give the terminal back, and leave nothing mounted
or attached (judged with losetup and /proc/self/mountinfo: the mounts held before the signal
are gone; other tests on this machine may mount their own meanwhile)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from console import demo

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
ESCAPES = re.compile(rb"\x1b(\[[0-9;?<>=$]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-Za-z]|[=>])")
SAFETY_NET = 120.0  # seconds; only so that a hung console fails the test instead of hanging it

# The console as `python -m console`, with the real restore gated: its first report of files
# being extracted waits (target attached, filesystem mounted) until the test has signalled.
LAUNCHER = """
import os, sys, time
from console.core.applying import restore
from console.core.events import Progress

reached, go_on = sys.argv[1], sys.argv[2]
real_apply_plan = restore.apply_plan

def gated_apply_plan(plan, listener, cancel=None):
    def gate(event):
        if isinstance(event, Progress) and event.step.startswith("Restoring") \\
                and not os.path.exists(go_on):
            open(reached, "w").close()
            while not os.path.exists(go_on):
                time.sleep(0.05)
        listener(event)
    return real_apply_plan(plan, gate, cancel)

restore.apply_plan = gated_apply_plan
from console.cli import main
sys.exit(main(sys.argv[3:]))
"""


class PtyConsole:
    """restore-console on the slave side of a pseudo-terminal; the test reads the screen and
    types on the master side."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the pty is its controlling terminal, stdin and stdout
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, *argv], env)
        self.output = b""
        self.mark = 0  # where the text looked for by expect() may start
        self.deadline = time.monotonic() + SAFETY_NET
        self.status: int | None = None

    def _read(self) -> bool:
        """Reads what the console wrote; False once the terminal is closed (it exited)."""
        if time.monotonic() > self.deadline:
            raise AssertionError("the console did not get there; its screen:\n" + self.text())
        ready, _, _ = select.select([self.fd], [], [], 0.1)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the slave side is closed
            return False
        self.output += data
        return bool(data)

    def text(self, start: int = 0) -> str:
        return ESCAPES.sub(b"", self.output[start:]).decode(errors="replace")

    def expect(self, words: str) -> None:
        while words not in self.text(self.mark):
            if not self._read():
                raise AssertionError(f"the console ended before showing {words!r}:\n"
                                     + self.text())
        self.mark = len(self.output)

    def until(self, condition) -> None:
        while not condition():
            self._read()

    def type(self, keys: str) -> None:
        self.mark = len(self.output)
        os.write(self.fd, keys.encode())

    def wait(self) -> int:
        """The exit status, once the console has ended by itself."""
        while self._read():
            pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        self.status = status
        return os.waitstatus_to_exitcode(status)

    def kill(self) -> None:
        """Ends a console a failed test left running: SIGTERM first, so that it unmounts and
        detaches on a machine other tests share; SIGKILL if that does not end it."""
        if self.status is not None:
            return
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + SAFETY_NET
        while os.waitpid(self.pid, os.WNOHANG)[0] == 0:
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                break
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    os.read(self.fd, 65536)  # a console blocked on a full terminal cannot end
                except OSError:
                    time.sleep(0.1)
        self.status = -1
        os.close(self.fd)


@pytest.fixture(scope="module")
def demo_base(tmp_path_factory) -> str:
    """The demo set, made once for this module in a directory of its own."""
    base = str(tmp_path_factory.mktemp("demo"))
    demo.prepare(base, listener=lambda event: None)
    return base


@pytest.fixture
def console(demo_base, tmp_path):
    """Starts `restore-console --demo` (gated) on a pty; kills it if a test leaves it running."""
    started: list[PtyConsole] = []
    files = {"reached": tmp_path / "reached", "go_on": tmp_path / "go-on",
             "log": tmp_path / "console.log"}

    def start() -> PtyConsole:
        env = {**os.environ, "TERM": "xterm", "PYTHONPATH": str(ROOT),
               "RESTORE_CONSOLE_DEMO_DIR": demo_base}
        running = PtyConsole(["-c", LAUNCHER, str(files["reached"]), str(files["go_on"]),
                              "--log", str(files["log"]), "--demo", "--theme", "textual-dark"],
                             env)
        started.append(running)
        return running

    yield start, files
    for running in started:
        running.kill()


def mount_points() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f}


def demo_mounts(base: str) -> set[str]:
    """Mount points of the loop devices the demo images are attached as (other tests on this
    machine mount and unmount their own things meanwhile)."""
    loops = [line.split(":")[0] for line in attached_demo_images(base).splitlines()]
    with open("/proc/self/mountinfo") as f:
        fields = [line.split() for line in f]
    return {entry[4] for entry in fields
            if any(entry[entry.index("-") + 2].startswith(loop) for loop in loops)}


def attached_demo_images(base: str) -> str:
    """What `losetup -j` says of each demo image: empty when none is attached."""
    images = [demo.demo_paths(base)["source"], *demo.demo_targets(base)]
    return "".join(subprocess.run(["losetup", "-j", image], capture_output=True, text=True,
                                  check=True).stdout for image in images)


def start_the_restore(running: PtyConsole) -> None:
    """From the start screen: the whole machine onto target-same-size.img, confirmed."""
    running.expect("[w] Restore the whole machine")
    running.type("w")
    running.expect("Press n to review")
    running.type("n")
    running.expect("type the name of the target")
    running.type("target-same-size.img\r")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_during_a_restore_cancels_it_and_leaves_nothing_mounted_or_attached(
        console, demo_base, signum):
    start, files = console
    running = start()
    start_the_restore(running)
    running.until(files["reached"].exists)
    target = demo.demo_paths(demo_base)["same"]
    assert "target-same-size.img" in attached_demo_images(demo_base)  # the restore holds it
    held = demo_mounts(demo_base)
    assert held  # and has its filesystem mounted
    os.kill(running.pid, signum)
    # The app has taken the signal before the restore goes on to its next report.
    running.until(lambda: f"ending on {signal.Signals(signum).name}"
                  in files["log"].read_text())
    files["go_on"].touch()
    assert running.wait() == 128 + signum
    assert b"\x1b[?1049l" in running.output  # the terminal's own screen given back
    # Cancelled at the report it was held at: no step began after the signal.
    after_the_signal = files["log"].read_text().partition("ending on")[2]
    assert after_the_signal and not re.search(r"step \d+ of \d+", after_the_signal)
    assert attached_demo_images(demo_base) == ""
    assert not held & mount_points()
    assert os.path.getsize(target) == demo.TARGET_SIZES["same"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_in_the_expert_shell_ends_it_and_unmounts_the_restored_system(
        console, demo_base, signum):
    start, files = console
    files["go_on"].touch()  # no gate: the restore runs through
    running = start()
    start_the_restore(running)
    running.expect("[s] Shell in the restored system")
    running.type("s")
    running.expect("restore-console: expert shell in")
    held = demo_mounts(demo_base)
    assert len(held) == 2  # the restored system, / and /home, mounted for the shell
    os.kill(running.pid, signum)
    assert running.wait() == 128 + signum
    assert attached_demo_images(demo_base) == ""
    assert not held & mount_points()


def test_the_terminal_hanging_up_on_the_start_screen_ends_the_console(console, demo_base):
    start, files = console
    running = start()
    running.expect("[w] Restore the whole machine")
    os.close(running.fd)  # the line drops: the kernel sends SIGHUP to the console
    running.fd = os.open(os.devnull, os.O_RDONLY)  # for kill() to close, if it must
    deadline = time.monotonic() + SAFETY_NET
    while (ended := os.waitpid(running.pid, os.WNOHANG))[0] == 0:
        assert time.monotonic() < deadline, "the console did not end after the hang-up"
        time.sleep(0.1)
    running.status = ended[1]
    assert os.waitstatus_to_exitcode(ended[1]) == 128 + signal.SIGHUP
    assert "ending on SIGHUP" in files["log"].read_text()
    assert attached_demo_images(demo_base) == ""


# The demo's first build, gated while it fills the source image: attached and mounted.
BUILD_LAUNCHER = """
import sys, time
from console import demo

reached = sys.argv[1]

def gated_write_tree(root, files, rng):
    open(reached, "w").close()
    while True:
        time.sleep(0.05)

demo._write_tree = gated_write_tree
from console.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_during_the_demos_first_build_undoes_it_and_leaves_nothing_attached(
        tmp_path, signum):
    base = tmp_path / "demo"
    reached = tmp_path / "reached"
    env = {**os.environ, "TERM": "xterm", "PYTHONPATH": str(ROOT),
           "RESTORE_CONSOLE_DEMO_DIR": str(base)}
    running = PtyConsole(["-c", BUILD_LAUNCHER, str(reached), "--log", str(tmp_path / "log"),
                          "--demo"], env)
    try:
        running.until(reached.exists)
        source = demo.demo_paths(str(base))["source"]
        assert source.split("/")[-1] in attached_demo_images(str(base))
        held = demo_mounts(str(base))
        assert held  # the source's root filesystem, mounted to be filled
        os.kill(running.pid, signum)
        assert running.wait() == 128 + signum
    finally:
        running.kill()
    assert f"ended by {signal.Signals(signum).name} before the console started" in running.text()
    assert attached_demo_images(str(base)) == ""
    assert not held & mount_points()
    assert not demo.has_demo_set(str(base))  # the next start makes it anew
