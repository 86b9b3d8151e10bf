"""Read-ahead for tar: the walk meets the files in tar's own order, stays within its window,
and its child process advises files and stops when told nothing more."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from console.core.backupset.archive import TAR_CREATE
from console.core.backupset.readahead import (
    MEMBER_OVERHEAD,
    ReadAhead,
    prefetch,
    tar_order,
)


def make_tree(root) -> None:
    names = ["b", "a", "B", "a-b", "a.b", "z", "\u00e9t\u00e9", "a b"]
    for top in names:
        os.makedirs(root / top / "sub" / "deeper")
        for name in names:
            (root / top / name).write_bytes(name.encode() * 3)
            (root / top / "sub" / name).write_bytes(b"x")
        (root / top / "sub" / "deeper" / "last").write_bytes(b"y" * 10)
        os.symlink("a", root / top / "link")
        os.mkfifo(root / top / "fifo")
    with open(os.fsencode(root) + b"/caf\xe9", "wb") as f:  # not UTF-8: sorted as bytes
        f.write(b"z")


def test_the_walk_meets_regular_files_in_the_order_tar_archives_them(tmp_path):
    make_tree(tmp_path)
    listing = subprocess.run(["tar", *TAR_CREATE, "-f", "-", "-C", str(tmp_path), "."],
                             capture_output=True, check=True).stdout
    members = subprocess.run(["tar", "-t", "--quoting-style=literal"], input=listing,
                             capture_output=True, check=True).stdout.split(b"\n")
    # tar -t lists every member; the walk gives regular files only, none twice.
    root = os.fsencode(tmp_path)
    regular = [m for m in members
               if m and os.path.isfile(root + m[1:]) and not os.path.islink(root + m[1:])]
    walked = [path for path, _ in tar_order(root)]
    assert walked == [root + m[1:] for m in regular]
    assert len(walked) > 100


def test_prefetch_stays_within_its_window_until_told_more():
    files = [(b"f%d" % i, 100) for i in range(10)]
    advised: list[bytes] = []
    limits = iter([2 * (100 + MEMBER_OVERHEAD), 10 ** 9])
    seen_at_each_wait: list[int] = []

    def next_limit():
        seen_at_each_wait.append(len(advised))
        return next(limits, None)

    prefetch(iter(files), next_limit, advised.append, window=100 + MEMBER_OVERHEAD)
    assert seen_at_each_wait == [1, 2]  # one file fits the window, the next limit one more
    assert advised == [p for p, _ in files]


def test_a_file_larger_than_a_quarter_of_the_window_is_left_to_the_kernel():
    advised: list[bytes] = []
    files = [(b"small", 10), (b"big", 2000), (b"after", 10)]
    prefetch(iter(files), lambda: 10 ** 9, advised.append, window=1000 + 2 * MEMBER_OVERHEAD)
    assert advised == [b"small", b"after"]


def test_prefetch_stops_when_the_parent_says_nothing_more():
    advised: list[bytes] = []
    prefetch(iter([(b"a", 10), (b"b", 10 ** 9)]), lambda: None, advised.append, window=2000)
    assert advised == [b"a"]


def test_the_child_runs_and_is_stopped(tmp_path):
    make_tree(tmp_path)
    with ReadAhead(str(tmp_path), window=4096) as read_ahead:
        proc = read_ahead._proc
        assert proc is not None
        read_ahead.advance(10 ** 9)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # with the whole tree allowed it walks to the end and exits
        assert proc.returncode == 0
    assert read_ahead._proc is None


def test_a_child_that_cannot_start_only_means_no_read_ahead(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    with ReadAhead(str(tmp_path)) as read_ahead:
        read_ahead.advance(10 ** 9)  # nothing to tell, nothing raised
    assert read_ahead._proc is None
