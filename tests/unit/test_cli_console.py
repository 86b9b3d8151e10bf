"""restore-console [--set PATH] [--demo] [--theme NAME]: what the command line hands the app."""

from __future__ import annotations

import json
import os

import pytest

from console import cli, demo
from console.tui.app import RestoreApp


@pytest.fixture
def started(monkeypatch):
    """Records the app the command line would run, instead of running it on this terminal."""
    apps = []

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
