"""Partial extraction from a real GNU tar archive in small seekable frames, with no disk images:
hard links whose target is not selected, nested choices, policies for existing files, a
symlink in the way, a damaged catalog, and the same selection read forward from a pipe.

Root is needed (tar restores owners); loop devices are not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from console.core.applying.partial import extract_selection
from console.core.backupset.archive import TAR_CREATE
from console.core.backupset.catalog import Catalog, CatalogWriter
from console.core.backupset.seekable import SeekableReader, SeekableWriter
from console.core.backupset.selection import Selection
from console.core.backupset.tarscan import TarScanner
from console.core.errors import RestoreError
from tests.system.hardtree import rsync_differences, xattrs_and_acls_snapshot

pytestmark = pytest.mark.system

FRAME = 64 * 1024


def _tree(root: Path) -> None:
    rng = __import__("random").Random(5)
    for d in ("bulk", "etc/ssh", "home/anna/docs", "srv/ro-dir", "links/a", "links/b"):
        (root / d).mkdir(parents=True)
    for i in range(40):  # about 40 frames of incompressible data before the interesting parts
        (root / f"bulk/blob{i:02d}").write_bytes(rng.randbytes(FRAME))
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (root / "etc/ssh/sshd_config").write_text("PermitRootLogin no\n")
    os.chmod(root / "etc/ssh/sshd_config", 0o600)
    (root / "home/anna/docs/letter.txt").write_bytes(rng.randbytes(3 * FRAME + 17))
    (root / "home/anna/notes").write_text("notes\n")
    os.chown(root / "home/anna", 1234, 5678)
    os.chown(root / "home/anna/notes", 1234, 5678)
    os.setxattr(root / "home/anna/notes", "user.tag", b"important")
    subprocess.run(["setfacl", "-m", "u:1234:rw", str(root / "home/anna/notes")], check=True)
    (root / "srv/ro-dir/inside").write_text("inside\n")
    os.chmod(root / "srv/ro-dir", 0o555)
    (root / "links/a/target").write_text("shared content\n")
    os.setxattr(root / "links/a/target", "user.shared", b"yes")
    for name in ("links/b/second", "links/b/third"):
        os.link(root / "links/a/target", root / name)
    os.symlink("../a/target", root / "links/b/soft")
    long_dir = root / ("L" * 120)
    long_dir.mkdir()
    with open(os.fsencode(long_dir) + b"/caf\xe9-" + b"n" * 150, "wb") as f:
        f.write(b"long and not UTF-8\n")
    with open(root / "srv/sparse", "wb") as f:
        f.truncate(8 * 1024 * 1024)
        f.seek(5 * 1024 * 1024)
        f.write(b"island" * 100)
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), ns=(1_600_000_000_111_111_111,) * 2,
                     follow_symlinks=False)
    os.utime(root, ns=(1_600_000_000_111_111_111,) * 2)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    base = tmp_path_factory.mktemp("partial")
    src = base / "src"
    src.mkdir()
    _tree(src)
    data = subprocess.run(["tar", *TAR_CREATE, "-f", "-", "-C", str(src), "."],
                          capture_output=True, check=True).stdout
    scanner = TarScanner()
    scanner.feed(data)
    scanner.finish()
    path = base / "fs-1.tar.zst"
    with open(path, "wb") as f:
        writer = SeekableWriter(f, frame_size=FRAME, threads=2)
        writer.write(data)
        writer.close()
    writer = CatalogWriter(str(base / "catalog.sqlite"))
    writer.add(1, scanner.members, lambda offset: offset // FRAME)
    writer.close()
    return base, src, path


def _extract(archive, selection, out, **kw):
    base, _, path = archive
    with Catalog(str(base / "catalog.sqlite")) as catalog, SeekableReader(str(path)) as reader:
        result = extract_selection(catalog, selection, str(out), label="test",
                                   archive_name=path.name, reader=reader, **kw)
        return result, reader


def _frames_holding(archive, selection) -> set[int]:
    """Independently: the frames any selected member's bytes fall into."""
    base, _, path = archive
    wanted = set()
    with Catalog(str(base / "catalog.sqlite")) as catalog, SeekableReader(str(path)) as reader:
        for sql, params in selection.conditions():
            for span in catalog.spans(1, sql, params):
                for frame in reader.frames:
                    if frame.d_offset < span.offset + span.length and \
                            span.offset < frame.d_offset + frame.d_size:
                        wanted.add(frame.index)
    return wanted


def _files(root: Path) -> set[str]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in dirnames + filenames:
            found.add(os.fsdecode(os.path.relpath(os.path.join(dirpath, name), os.fsencode(root))))
    return found


def test_a_subtree_comes_back_exactly_and_only_its_frames_are_read(archive, tmp_path):
    _, src, _ = archive
    selection = Selection(1)
    selection.include(b"/home")
    result, reader = _extract(archive, selection, tmp_path / "out")
    assert rsync_differences(src / "home", tmp_path / "out/home") == []
    assert xattrs_and_acls_snapshot(src / "home") == xattrs_and_acls_snapshot(tmp_path / "out/home")
    assert _files(tmp_path / "out") == {"home", "home/anna", "home/anna/docs",
                                        "home/anna/docs/letter.txt", "home/anna/notes"}
    assert result.entries == 5 and not result.mismatched
    expected_frames = _frames_holding(archive, selection)
    assert reader.frames_read == len(expected_frames) == result.frames_read
    assert 0 < result.frames_read < result.frames_total // 4


def test_nested_choices(archive, tmp_path):
    _, src, _ = archive
    selection = Selection(1)
    selection.include(b"/etc")
    selection.exclude(b"/etc/ssh")
    selection.include(b"/etc/ssh/sshd_config")
    selection.include(b"/srv/ro-dir")
    out = tmp_path / "out"
    result, _ = _extract(archive, selection, out)
    assert _files(out) == {"etc", "etc/passwd", "etc/ssh", "etc/ssh/sshd_config", "srv",
                           "srv/ro-dir", "srv/ro-dir/inside"}
    for name in ("etc/passwd", "etc/ssh/sshd_config", "srv/ro-dir", "srv/ro-dir/inside"):
        a, b = os.lstat(src / name), os.lstat(out / name)
        assert (a.st_mode, a.st_uid, a.st_gid, a.st_mtime_ns) == \
            (b.st_mode, b.st_uid, b.st_gid, b.st_mtime_ns), name
    # Directories on the way that were not selected are made with their archived metadata.
    for name in ("etc/ssh", "srv"):
        a, b = os.lstat(src / name), os.lstat(out / name)
        assert (a.st_mode, a.st_uid, a.st_gid, a.st_mtime_ns) == \
            (b.st_mode, b.st_uid, b.st_gid, b.st_mtime_ns), name
    assert result.entries == 5  # etc, passwd, sshd_config, ro-dir, inside: not etc/ssh or srv
    assert not result.mismatched


def test_hard_link_without_its_target_keeps_its_content(archive, tmp_path):
    selection = Selection(1)
    selection.include(b"/links/b")
    out = tmp_path / "out"
    result, _ = _extract(archive, selection, out)
    second, third = out / "links/b/second", out / "links/b/third"
    assert second.read_text() == third.read_text() == "shared content\n"
    assert os.stat(second).st_ino == os.stat(third).st_ino  # still linked to each other
    assert os.getxattr(second, "user.shared") == b"yes"
    assert os.stat(second).st_mtime_ns == 1_600_000_000_111_111_111
    assert not (out / "links/a").exists()  # the target itself was not selected
    assert os.readlink(out / "links/b/soft") == "../a/target"
    assert not result.mismatched


def test_long_and_non_utf8_names_and_sparse_files(archive, tmp_path):
    _, src, _ = archive
    selection = Selection(1)
    selection.include(b"/" + b"L" * 120)
    selection.include(b"/srv/sparse")
    out = tmp_path / "out"
    _extract(archive, selection, out)
    name = os.fsencode(out) + b"/" + b"L" * 120 + b"/caf\xe9-" + b"n" * 150
    assert open(name, "rb").read() == b"long and not UTF-8\n"
    sparse = out / "srv/sparse"
    assert sparse.read_bytes() == (src / "srv/sparse").read_bytes()
    assert os.stat(sparse).st_blocks * 512 < os.stat(sparse).st_size


def test_read_forward_from_a_pipe_gives_the_same_tree(archive, tmp_path):
    base, src, path = archive
    selection = Selection(1)
    selection.include(b"/home")
    selection.include(b"/links/b/second")
    cat = subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE)
    try:
        with Catalog(str(base / "catalog.sqlite")) as catalog:
            result = extract_selection(catalog, selection, str(tmp_path / "piped"), label="test",
                                       archive_name=path.name, stream=cat.stdout)
    finally:
        cat.stdout.close()
        cat.wait()
    seek_result, _ = _extract(archive, selection, tmp_path / "seeked")
    for top in ("home", "links"):  # the output directories themselves are not from the set
        assert rsync_differences(tmp_path / "seeked" / top, tmp_path / "piped" / top) == []
    assert _files(tmp_path / "piped") == _files(tmp_path / "seeked")
    assert (tmp_path / "piped/links/b/second").read_text() == "shared content\n"
    assert result.entries == seek_result.entries
    # Every frame passed by, only those holding selected bytes were decompressed.
    assert result.frames_read == len(_frames_holding(archive, selection)) < 20


def test_existing_files_policies(archive, tmp_path):
    selection = Selection(1)
    selection.include(b"/etc/passwd")
    selection.include(b"/home/anna/notes")
    out = tmp_path / "out"
    (out / "etc").mkdir(parents=True)
    (out / "home/anna").mkdir(parents=True)
    (out / "etc/passwd").write_text("local, newer\n")
    (out / "home/anna/notes").write_text("local, older\n")
    os.utime(out / "home/anna/notes", ns=(1_500_000_000_000_000_000,) * 2)

    result, _ = _extract(archive, selection, out, existing="skip")
    assert (out / "etc/passwd").read_text() == "local, newer\n"
    assert (out / "home/anna/notes").read_text() == "local, older\n"
    assert sorted(result.skipped) == [b"/etc/passwd", b"/home/anna/notes"]

    result, _ = _extract(archive, selection, out, existing="newer")
    assert (out / "etc/passwd").read_text() == "local, newer\n"  # written just now: newer
    assert (out / "home/anna/notes").read_text() == "notes\n"
    assert result.skipped == [b"/etc/passwd"]

    result, _ = _extract(archive, selection, out, existing="overwrite")
    assert (out / "etc/passwd").read_text().startswith("root:x:0:0")
    assert result.skipped == []


def test_a_symlink_on_the_way_is_refused(archive, tmp_path):
    selection = Selection(1)
    selection.include(b"/etc/ssh/sshd_config")
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (out / "etc").symlink_to(outside)
    with pytest.raises(RestoreError, match="symbolic link"):
        _extract(archive, selection, out)
    assert list(outside.iterdir()) == []


def test_content_that_does_not_match_the_catalog_is_reported(archive, tmp_path):
    base, _, path = archive
    damaged = tmp_path / "catalog.sqlite"
    shutil.copy(base / "catalog.sqlite", damaged)
    import sqlite3
    db = sqlite3.connect(damaged)
    db.execute("UPDATE members SET blake3 = zeroblob(32) WHERE path = ?", (b"/etc/passwd",))
    db.commit()
    db.close()
    selection = Selection(1)
    selection.include(b"/etc")
    with Catalog(str(damaged)) as catalog, SeekableReader(str(path)) as reader:
        result = extract_selection(catalog, selection, str(tmp_path / "out"), label="test",
                                   archive_name=path.name, reader=reader)
    assert result.mismatched == [b"/etc/passwd"]


def test_selecting_everything_is_a_full_restore(archive, tmp_path):
    _, src, _ = archive
    selection = Selection(1)
    selection.include(b"/")
    result, reader = _extract(archive, selection, tmp_path / "out")
    assert rsync_differences(src, tmp_path / "out") == []  # the root directory itself included
    assert xattrs_and_acls_snapshot(src) == xattrs_and_acls_snapshot(tmp_path / "out")
    assert reader.frames_read == result.frames_total


def test_frame_runs_merge_adjacent_members(archive):
    from console.core.applying.partial import plan_selection
    base, _, path = archive
    selection = Selection(1)
    selection.include(b"/bulk")
    with Catalog(str(base / "catalog.sqlite")) as catalog, SeekableReader(str(path)) as reader:
        plan = plan_selection(catalog, selection)
        assert len(plan.ranges) == 1 and plan.entries == 41  # the directory and 40 blobs
        (first, last), = plan.frame_runs(reader)
        assert last - first + 1 == len(_frames_holding(archive, selection)) >= 40
