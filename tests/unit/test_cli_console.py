"""restore-console [--set PATH] [--demo] [--theme NAME]: what the command line hands the app."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from console import cli, demo
from console.tui.app import RestoreApp


@pytest.fixture
def started(monkeypatch):
    """Records the app the command line would run, instead of running it on this terminal
    (which pytest's capture makes no terminal: the console would refuse to start)."""
    apps = []
    monkeypatch.setattr(cli, "terminal_refusal", lambda: None)

    def run(self, *args, **kwargs):
        apps.append(self)
        self._return_code = 0

    monkeypatch.setattr(RestoreApp, "run", run)
    return apps


@pytest.fixture
def demo_dir(tmp_path, monkeypatch):
    base = tmp_path / "demo"
    base.mkdir()
    monkeypatch.setattr(demo, "DEMO_DIR", str(base))
    return base


def test_set_and_theme_reach_the_app(started, tmp_path):
    assert cli.main(["--log", str(tmp_path / "log"), "--set", "/media/backup/web-01",
                     "--theme", "linux-console"]) == 0
    (app,) = started
    assert app.set_path == "/media/backup/web-01" and app.theme == "linux-console"
    assert app.log_path == str(tmp_path / "log") and not app.demo


def test_demo_without_root_and_without_its_set_says_how_to_make_it(started, demo_dir,
                                                                   monkeypatch, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    made = []
    monkeypatch.setattr(demo, "prepare", lambda *a, **k: made.append(a))
    assert cli.main(["--log", str(tmp_path / "log"), "--demo"]) == 0
    (app,) = started
    assert made == [] and app.set_path is None and app.demo
    assert "making it needs root" in app.set_problem.message
    assert "sudo make demo" in app.set_problem.hint
    assert app.target_images == demo.demo_targets(str(demo_dir))


def test_demo_without_root_opens_a_set_made_before(started, demo_dir, monkeypatch, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    set_dir = demo_dir / "set"
    set_dir.mkdir()
    (set_dir / "manifest.json").write_text(json.dumps({"format_version": 1}))
    assert cli.main(["--log", str(tmp_path / "log"), "--demo"]) == 0
    (app,) = started
    assert app.set_path == str(set_dir) and app.set_problem is None


def test_demo_as_root_prepares_the_set_and_blank_targets_first(started, demo_dir, monkeypatch,
                                                              tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    made = []

    def prepare(base, listener):
        made.append(base)
        (demo_dir / "set").mkdir()
        (demo_dir / "set" / "manifest.json").write_text("{}")

    monkeypatch.setattr(demo, "prepare", prepare)
    assert cli.main(["--log", str(tmp_path / "log"), "--demo"]) == 0
    (app,) = started
    assert made == [str(demo_dir)] and app.set_path == str(demo_dir / "set")


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        super().isatty()  # raises on a closed stream, as a file's does
        return self.tty


def test_a_usable_terminal_is_stdin_and_stdout_on_a_tty_and_a_term_that_is_not_dumb():
    tty = Stream(True)
    assert cli.terminal_refusal(tty, tty, {"TERM": "linux"}) is None
    assert cli.terminal_refusal(tty, tty, {"TERM": "vt220"}) is None
    assert "standard input is not one" in cli.terminal_refusal(Stream(False), tty,
                                                               {"TERM": "linux"}).message
    assert "standard output is not one" in cli.terminal_refusal(tty, Stream(False),
                                                                {"TERM": "linux"}).message
    closed = Stream(True)
    closed.close()
    assert "standard input is not one" in cli.terminal_refusal(closed, tty,
                                                               {"TERM": "linux"}).message
    assert "TERM is not set" in cli.terminal_refusal(tty, tty, {}).message
    unknown = cli.terminal_refusal(tty, tty, {"TERM": "dumb"})
    assert "TERM is dumb" in unknown.message and "TERM=vt220" in unknown.hint


@pytest.mark.parametrize("arguments", [["--set", "/nonexistent"], ["--demo"], []])
def test_without_a_terminal_the_console_exits_2_at_once_pointing_to_the_subcommands(
        arguments, tmp_path):
    # The timeout is only a safety net: the console used to draw into the pipe forever.
    proc = subprocess.run([sys.executable, "-m", "console", "--log", str(tmp_path / "log"),
                           *arguments], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=120,
                          env={**os.environ, "TERM": "xterm",
                               "RESTORE_CONSOLE_DEMO_DIR": str(tmp_path / "demo")})
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""  # not one escape sequence
    assert "needs a terminal, and its standard input is not one" in proc.stderr
    assert "the subcommands" in proc.stderr and "inspect, ls" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "demo").exists()  # the demo made and blanked nothing
