"""Nuke mode for a fleet, on disk images: plans/map on the share picks this machine's plan by
its MAC, the pre hook runs before anything is written, the post hook with the restored system
mounted read-write, and the log and a JSON result go to the share's logs/ (also when it
fails). The same in the rescue system over NFS: tests/e2e/test_nfs.py."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from console.core.planning.fleet import this_machine
from tests.system.clitool import cli, cli_backup
from tests.system.images import attached, mounted, sfdisk_json
from tests.system.test_nuke import SIZE_MIB, blank, make_source

pytestmark = pytest.mark.system

POST = """\
echo "post: $RESTORE_HOST $RESTORE_MATCHED"
echo "$RESTORE_PHASE $RESTORE_TARGETS" > "$RESTORE_ROOT/etc/fleet-marker"
"""
PRE = """\
echo "pre: $RESTORE_TARGETS"
[ -z "$RESTORE_ROOT" ] && echo "$RESTORE_PLAN" > "$RESTORE_SHARE/pre-ran"
"""


@pytest.fixture(scope="module")
def share(tmp_path_factory):
    base = tmp_path_factory.mktemp("fleet")
    image = base / "source.img"
    make_source(image)
    cli_backup(image, base / "share" / "set")
    return image, base / "share"


def a_mac() -> str:
    macs = sorted(this_machine().macs)
    if not macs:
        pytest.skip("this machine has no network interface with a MAC address")
    return macs[0]


def test_the_map_gives_this_machine_its_plan_hooks_run_and_the_report_lands_on_the_share(
        share, tmp_path):
    image, original = share
    root = tmp_path / "share"
    shutil.copytree(original, root)
    target = blank(tmp_path / "target.img", SIZE_MIB * 2)
    decoy = blank(tmp_path / "decoy.img", SIZE_MIB * 2)  # the suggestion could not choose
    plans = root / "plans"
    plans.mkdir()
    proc = cli("plan", str(root / "set"), "--map", f"{image}={target}",
               "--part", f"{image}:1=100MiB", "--save", str(plans / "mine.json"))
    assert proc.returncode == 0, proc.stderr
    (plans / "post.sh").write_text(POST)
    (plans / "pre.sh").write_text(PRE)
    (plans / "map").write_text(f"# the fleet\n52:54:00:00:00:99 other.json\n"
                               f"{a_mac().upper()}  mine.json  pre.sh  post.sh\n")
    proc = cli("--nuke", "--set", str(root / "set"), "--log", str(tmp_path / "nuke.log"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == (f"restore-console: nuke mode, the set {root / 'set'} with the plan "
                        f"{plans / 'mine.json'} (line 3 of {plans / 'map'}, for {a_mac()})")
    assert f"  pre hook: pre: {target}" in lines
    host = json.loads((root / "set" / "manifest.json").read_text())["host"]
    assert f"  post hook: post: {host} {a_mac()}" in lines
    assert (root / "pre-ran").read_text() == f"{plans / 'mine.json'}\n"
    with attached(target, read_only=True) as disk:
        with mounted(disk.partition(1), "ext4", "ro,noload") as restored:
            assert (restored / "etc/fleet-marker").read_text() == f"post {target}\n"
    table = sfdisk_json(target)["partitiontable"]
    # the plan's size, not what a suggestion would give (the whole larger disk)
    assert table["partitions"][0]["size"] * table["sectorsize"] == 100 * 1024 * 1024
    assert decoy.stat().st_blocks == 0
    reports = sorted(os.listdir(root / "logs"))
    assert len(reports) == 2 and reports[0].endswith(".json") and reports[1].endswith(".log")
    result = json.loads((root / "logs" / reports[0]).read_text())
    assert result["ok"] is True and result["error"] is None
    assert (result["matched"], result["map_line"], result["targets"]) == (a_mac(), 3,
                                                                          [str(target)])
    assert "nuke mode applies the plan" in (root / "logs" / reports[1]).read_text()
    assert any(line.endswith(f"logs/{reports[0]}") for line in lines)


def test_a_failing_pre_hook_stops_before_anything_is_written_and_the_failure_is_reported(
        share, tmp_path):
    image, original = share
    root = tmp_path / "share"
    shutil.copytree(original, root)
    target = blank(tmp_path / "target.img")
    plans = root / "plans"
    plans.mkdir()
    assert cli("plan", str(root / "set"), "--map", f"{image}={target}",
               "--save", str(plans / "mine.json")).returncode == 0
    (plans / "pre.sh").write_text("echo not today; exit 4\n")
    (plans / "map").write_text(f"{a_mac()} mine.json pre.sh\n")
    proc = cli("--nuke", "--set", str(root / "set"), "--log", str(tmp_path / "nuke.log"))
    assert proc.returncode == 1
    assert f"The pre hook {plans / 'pre.sh'} failed (exit status 4)" in proc.stderr
    assert "  pre hook: not today" in proc.stdout
    assert target.stat().st_blocks == 0
    (report,) = [name for name in os.listdir(root / "logs") if name.endswith(".json")]
    result = json.loads((root / "logs" / report).read_text())
    assert result["ok"] is False and "exit status 4" in result["error"]


def test_a_map_without_this_machine_refuses_in_words(share, tmp_path):
    _, original = share
    root = tmp_path / "share"
    shutil.copytree(original, root)
    (root / "plans").mkdir()
    (root / "plans" / "map").write_text("52:54:00:00:00:99 other.json\n")
    proc = cli("--nuke", "--set", str(root / "set"), "--log", str(tmp_path / "nuke.log"))
    assert proc.returncode == 1
    assert "has no line for this machine" in proc.stderr
