"""Fleets: plans/map read and matched against this machine's addresses, the hooks run with their
environment, the report written back to the share, the dnsmasq configuration of mkrescue --pxe
(checked by dnsmasq itself where it is installed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from console.core.applying.fleet import report_name, send_report
from console.core.errors import RestoreError
from console.core.media.nfs import writable_options
from console.core.planning.fleet import (
    Addresses,
    FleetEntry,
    choose,
    find_map,
    normal_address,
    parse_map,
    this_machine,
)
from console.core.rescue.boot import dnsmasq_config, write_dnsmasq
from console.fleet import FleetRun, run_hook

MAP = """\
# MAC or IP            plan          pre       post
52:54:00:12:34:01      web1.json     -         post.sh
52-54-00-12-34-02      web2.json               # pre and post left out
10.0.2.15              /abs/db.json  pre.sh    post.sh
fd00::0015             v6.json
"""


def test_the_map_is_read_with_paths_beside_it_and_addresses_normalized():
    entries = parse_map(MAP, "/share/plans")
    assert entries == [
        FleetEntry("52:54:00:12:34:01", "/share/plans/web1.json", None,
                   "/share/plans/post.sh", 2),
        FleetEntry("52:54:00:12:34:02", "/share/plans/web2.json", None, None, 3),
        FleetEntry("10.0.2.15", "/abs/db.json", "/share/plans/pre.sh", "/share/plans/post.sh",
                   4),
        FleetEntry("fd00::15", "/share/plans/v6.json", None, None, 5),
    ]


@pytest.mark.parametrize("line, words", [
    ("52:54:00:12:34:01", "1 fields"),
    ("52:54:00:12:34:01 a b c d", "5 fields"),
    ("web1 web1.json", "neither a MAC address"),
    ("52:54:00:12:34 web1.json", "neither a MAC address"),
    ("10.0.2.15 -", "no plan"),
])
def test_a_malformed_line_is_refused_with_its_number(line, words):
    with pytest.raises(RestoreError, match=f"line 2: .*{words}"):
        parse_map("# comment\n" + line + "\n", "/p", "plans/map")


def test_a_machine_is_found_by_its_mac_before_its_ip_and_unknown_gives_none():
    entries = parse_map(MAP, "/p")
    by_mac = choose(entries, Addresses({"52:54:00:12:34:02"}, {"10.0.2.15"}))
    assert by_mac.plan == "/p/web2.json"
    assert choose(entries, Addresses({"52:54:00:99:99:99"}, {"10.0.2.15"})).plan == "/abs/db.json"
    assert choose(entries, Addresses({"52:54:00:99:99:99"}, {"10.0.2.16"})) is None


def test_a_machine_on_two_lines_that_differ_is_refused_and_the_same_line_twice_is_not():
    entries = parse_map("52:54:00:12:34:01 a.json\n52:54:00:12:34:01 b.json\n", "/p")
    with pytest.raises(RestoreError, match="lines 1, 2"):
        choose(entries, Addresses({"52:54:00:12:34:01"}))
    twice = parse_map("52:54:00:12:34:01 a.json\n52:54:00:12:34:01 a.json\n", "/p")
    assert choose(twice, Addresses({"52:54:00:12:34:01"})).line == 1


@pytest.mark.parametrize("text, normal", [("52:54:00:AB:cd:01", "52:54:00:ab:cd:01"),
                                          ("192.168.001.2", None), ("fd00:0::1", "fd00::1"),
                                          ("10.0.2.15", "10.0.2.15")])
def test_addresses_are_normalized(text, normal):
    assert normal_address(text) == normal


def test_this_machine_reads_its_macs_from_sysfs_without_loopback(tmp_path):
    for name, mac in (("lo", "00:00:00:00:00:00"), ("eth0", "52:54:00:12:34:56"),
                      ("eth1", "52:54:00:12:34:57")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "address").write_text(mac + "\n")
    assert this_machine(str(tmp_path)).macs == {"52:54:00:12:34:56", "52:54:00:12:34:57"}


def test_this_machine_has_this_hosts_real_interfaces():
    mine = this_machine()
    real = {open(f"/sys/class/net/{n}/address").read().strip()
            for n in os.listdir("/sys/class/net") if n != "lo"} - {"00:00:00:00:00:00"}
    assert mine.macs == real


def test_the_nearest_map_at_or_above_the_set_is_taken(tmp_path):
    set_dir = tmp_path / "sets" / "web1"
    set_dir.mkdir(parents=True)
    assert find_map(str(set_dir)) is None
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "map").write_text("")
    assert find_map(str(set_dir)) == str(tmp_path / "plans" / "map")
    (set_dir / "plans").mkdir()
    (set_dir / "plans" / "map").write_text("")
    assert find_map(str(set_dir)) == str(set_dir / "plans" / "map")


def test_a_share_with_a_map_but_no_line_for_this_machine_is_refused(tmp_path):
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "map").write_text("52:54:00:00:00:00 x.json\n")
    with pytest.raises(RestoreError, match="no line for this machine"):
        FleetRun.find(str(tmp_path))


def test_hooks_run_with_their_environment_and_a_failure_stops_in_words(tmp_path):
    said = []
    hook = tmp_path / "post.sh"  # not executable: run with /bin/sh
    hook.write_text('echo "$RESTORE_PHASE $RESTORE_ROOT $RESTORE_MATCHED $PWD"\n'
                    'touch "$RESTORE_ROOT/marker"\n')
    run = FleetRun(str(tmp_path / "plans/map"), str(tmp_path),
                   FleetEntry("52:54:00:12:34:01", str(tmp_path / "p.json"), None, str(hook)),
                   "52:54:00:12:34:01")
    root = tmp_path / "root"
    root.mkdir()
    run_hook(str(hook), run.environment("post", "/set", "web1", ["/dev/vda"], str(root)),
             said.append)
    assert said[-1] == f"  post hook: post 52:54:00:12:34:01 {tmp_path}".replace(
        " 52:", f" {root} 52:")
    assert (root / "marker").exists()
    hook.write_text("echo no; exit 3\n")
    with pytest.raises(RestoreError, match=r"post hook .* failed \(exit status 3\)"):
        run_hook(str(hook), run.environment("post", "/set", "web1", []), said.append)
    with pytest.raises(RestoreError, match="does not exist"):
        run_hook(str(tmp_path / "none"), run.environment("pre", "/set", "web1", []), said.append)


def test_the_report_goes_to_logs_with_the_log_and_the_second_of_the_same_name_is_numbered(
        tmp_path):
    log = tmp_path / "restore.log"
    log.write_text("the log\n")
    when = 1796105112.0  # 2026-12-01T06:05:12Z
    assert report_name("web 1/x", when) == "web_1_x-20261201T060512Z"
    first, why = send_report(str(tmp_path), "web1", when, str(log), {"ok": True})
    assert why == ""
    assert first == [str(tmp_path / "logs/web1-20261201T060512Z.log"),
                     str(tmp_path / "logs/web1-20261201T060512Z.json")]
    second, _ = send_report(str(tmp_path), "web1", when, str(log), {"ok": False})
    assert second[1].endswith("web1-20261201T060512Z-2.json")
    assert json.loads(open(second[1]).read()) == {"ok": False}
    assert open(first[0]).read() == "the log\n"


def test_a_share_that_cannot_be_written_keeps_the_log_here_and_says_so(tmp_path):
    os.chmod(tmp_path, 0o555)
    try:
        written, why = send_report(str(tmp_path), "web1", 0, None, {})
    finally:
        os.chmod(tmp_path, 0o755)
    if os.geteuid() == 0:  # root writes anyway
        assert written and not why
    else:
        assert written == [] and "cannot be written" in why


def test_a_read_only_nfs_mounts_options_become_a_read_write_one_beside_it():
    shown = "ro,relatime,vers=4.2,rsize=1048576,addr=10.0.2.100,clientaddr=10.0.2.15".split(",")
    assert writable_options(shown) == ["rw", "nosharecache", "relatime", "vers=4.2",
                                       "rsize=1048576", "addr=10.0.2.100",
                                       "clientaddr=10.0.2.15"]


def test_the_dnsmasq_configuration_is_proxy_dhcp_and_tftp_with_ipxe_then_the_script():
    text = dnsmasq_config("/srv/rescue/pxe", "192.168.1.0")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert "dhcp-range=192.168.1.0,proxy" in lines
    assert "port=0" in lines and "enable-tftp" in lines
    assert "tftp-root=/srv/rescue/pxe" in lines
    assert 'pxe-service=tag:!ipxe,x86PC,"restore-console: iPXE",undionly.kpxe' in lines
    assert 'pxe-service=tag:ipxe,x86PC,"restore-console",rescue.ipxe' in lines
    assert not any(line.startswith("dhcp-range") for line in
                   dnsmasq_config("/x", None).splitlines())


@pytest.mark.skipif(shutil.which("dnsmasq") is None, reason="dnsmasq is not installed "
                    "(Debian package dnsmasq-base)")
def test_dnsmasq_itself_accepts_the_configuration(tmp_path):
    missing = write_dnsmasq(str(tmp_path), "192.168.1.0")
    conf = tmp_path / "pxe" / "dnsmasq.conf"
    proc = subprocess.run(["dnsmasq", "--test", f"--conf-file={conf}"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert "syntax check OK" in proc.stderr
    for name in ("undionly.kpxe", "ipxe.efi"):
        assert (tmp_path / "pxe" / name).exists() or f"/usr/lib/ipxe/{name}" in missing


@pytest.mark.parametrize("args, words", [
    (["--pxe-network", "192.168.1.0"], "--pxe-network goes with --pxe"),
    (["--pxe", "--pxe-network", "192.168.1"], "is not an IPv4 address"),
])
def test_mkrescue_pxe_network_mistakes_are_usage_errors_before_anything_is_built(
        args, words, tmp_path):
    from tests.system.clitool import cli
    proc = cli("--log", str(tmp_path / "log"), "mkrescue", "--to", str(tmp_path / "r"), *args)
    assert proc.returncode == 2 and words in proc.stderr
    assert not (tmp_path / "r").exists()
