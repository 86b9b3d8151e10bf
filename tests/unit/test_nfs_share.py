"""NFS shares named as a SET: what is a share and what is a path, and the mounts tried (the
real mount needs the kernel's NFS client: tests/e2e/test_nfs.py does it in the rescue VM)."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.core.errors import RestoreError, UsageError
from console.core.media import nfs
from console.core.media.nfs import NfsShare, failure_words, mount_commands, parse_share


@pytest.mark.parametrize("text, share", [
    ("backup:/srv/sets/web1", NfsShare("backup", "/srv/sets/web1")),
    ("10.0.2.100:/share", NfsShare("10.0.2.100", "/share")),
    ("10.0.2.100:/share,port=2049,vers=4.1", NfsShare("10.0.2.100", "/share",
                                                      ("port=2049", "vers=4.1"))),
    ("nfs://backup.example.org/srv/sets/", NfsShare("backup.example.org", "/srv/sets")),
    ("nfs://backup:20490/share,timeo=50", NfsShare("backup", "/share",
                                                   ("timeo=50", "port=20490"))),
    ("nfs://server", NfsShare("server", "/")),
    ("[fd00::1]:/export", NfsShare("fd00::1", "/export")),
    ("nfs://[fd00::1]/export", NfsShare("fd00::1", "/export")),
])
def test_a_share_is_read_from_either_form_with_its_options(text, share):
    assert parse_share(text) == share


@pytest.mark.parametrize("text", ["/mnt/set", "set", "./a:/b", "/dev/nst0", "web1-1.iso", ""])
def test_paths_are_not_shares(text):
    assert parse_share(text) is None


def test_an_existing_local_path_stays_a_path_whatever_its_form(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "host:").mkdir()
    (tmp_path / "host:" / "x").mkdir()
    assert parse_share("host:/x") is None  # the directory x in ./host:
    assert parse_share("other:/x") == NfsShare("other", "/x")


def test_a_malformed_url_and_a_read_write_option_are_usage_errors():
    with pytest.raises(UsageError, match="nfs://SERVER/PATH"):
        parse_share("nfs://")
    with pytest.raises(UsageError, match="read-only"):
        parse_share("server:/share,rw")


def test_version_4_is_tried_first_then_3_with_nolock_over_tcp_by_address():
    share = NfsShare("backup", "/srv/sets", ("port=2049",))
    assert mount_commands(share, "192.0.2.7", "/run/x") == [
        ["mount", "-t", "nfs4", "-o", "ro,vers=4,addr=192.0.2.7,port=2049",
         "backup:/srv/sets", "/run/x"],
        ["mount", "-t", "nfs", "-o",
         "ro,vers=3,nolock,proto=tcp,mountproto=tcp,addr=192.0.2.7,port=2049",
         "backup:/srv/sets", "/run/x"],
    ]


@pytest.mark.parametrize("option, types", [("vers=3", ["nfs"]), ("nfsvers=4.2", ["nfs4"]),
                                           ("v3", ["nfs"]), ("v4", ["nfs4"])])
def test_a_version_given_is_the_only_one_tried(option, types):
    commands = mount_commands(NfsShare("s", "/p", (option,)), "192.0.2.7", "/d")
    assert [c[2] for c in commands] == types
    assert all("vers=3," not in c[4] and "vers=4," not in c[4] for c in commands)
    assert option not in ("v3", "v4") or all(f",{option}" not in c[4] for c in commands)


def test_a_read_write_mount_beside_the_read_only_one_shares_no_cache():
    commands = mount_commands(NfsShare("s", "/p"), "192.0.2.7", "/d", read_only=False)
    assert all(c[4].startswith("rw,vers=") and "nosharecache" in c[4] for c in commands)


def test_an_ipv6_server_is_bracketed_for_the_kernel():
    assert NfsShare("fd00::1", "/export").source == "[fd00::1]:/export"


@pytest.mark.parametrize("stderr, words", [
    ("mount: /d: mount(2) system call failed: Connection refused.", "does not answer"),
    ("mount: /d: mount(2) system call failed: Connection timed out.", "does not answer"),
    ("mount: /d: mount(2) system call failed: No such file or directory.\n"
     "       dmesg(1) may have more information after failed mount system call.",
     "exports no /srv/sets (mount(2) system call failed: No such file or directory)"),
    ("mount: /d: special device backup:/srv/sets does not exist.", "exports no /srv/sets"),
    ("mount: /d: mount(2) system call failed: Permission denied.", "refuses this machine"),
    ("mount: /d: unknown filesystem type 'nfs4'.", "This kernel cannot mount NFS"),
    ("mount: /d: something else.", "Could not mount the NFS share backup:/srv/sets"),
])
def test_a_failed_mount_is_said_in_words(stderr, words):
    error = failure_words(NfsShare("backup", "/srv/sets"), stderr)
    assert isinstance(error, RestoreError) and words in error.message and error.hint


def test_a_name_that_does_not_resolve_is_said_before_mounting():
    with pytest.raises(RestoreError, match="does not resolve"):
        nfs.server_address("no-such-host.invalid")


def test_a_share_mounted_without_a_set_is_refused_and_unmounted_at_the_end(
        tmp_path, monkeypatch):
    mounted, unmounted = [], []
    monkeypatch.setattr(nfs, "RUN_DIRECTORY", str(tmp_path))
    monkeypatch.setattr(nfs, "server_address", lambda server: "192.0.2.7")
    monkeypatch.setattr(nfs, "mount_share", lambda share, directory, *a, **k:
                        mounted.append(directory))
    monkeypatch.setattr(nfs, "unmount", unmounted.append)
    with pytest.raises(UsageError, match="holds no backup set"):
        nfs.share_directory("server:/empty")
    nfs.unmount_shares()
    assert unmounted == mounted and len(mounted) == 1


def test_each_boot_gets_its_own_nfs_client_identity_unless_one_is_set(tmp_path):
    empty, other, already = tmp_path / "identifier", tmp_path / "unique_id", tmp_path / "set"
    empty.write_text("\n")
    other.write_text("")
    nfs.unique_client_identity((str(tmp_path / "absent"), str(empty), str(other)))
    assert len(empty.read_text()) == 36 and other.read_text() == ""  # the first place only
    already.write_text("chosen-by-the-admin\n")
    nfs.unique_client_identity((str(already),))
    assert already.read_text() == "chosen-by-the-admin\n"


def test_the_command_line_unmounts_the_share_also_when_the_command_fails(
        tmp_path, monkeypatch, capsys):
    from console import cli
    mounted, unmounted = [], []

    def mount(share, directory, *args, **kwargs):  # a share whose manifest is damaged
        (Path(directory) / "manifest.json").write_text("{not json")
        mounted.append(directory)

    monkeypatch.setattr(nfs, "RUN_DIRECTORY", str(tmp_path))
    monkeypatch.setattr(nfs, "mount_share", mount)
    monkeypatch.setattr(nfs, "unmount", unmounted.append)
    code = cli.main(["--log", str(tmp_path / "log"), "inspect", "nfs://backup/srv/sets/web1"])
    assert code == 1 and "is damaged" in capsys.readouterr().err
    assert unmounted == mounted and len(mounted) == 1
