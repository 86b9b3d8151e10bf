"""Asking for a volume of the set, by number and label, with the real ISO reader: on a
terminal the command line asks and reads the volume again on retry; nuke mode looks again
every few seconds and fails in words once its wait is over; a wrong volume is refused in
words each time and never taken."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from importlib.resources import files

import pytest

from console.answering import cli_answerer
from console.core.errors import RestoreError
from console.core.events import Message
from console.core.media.isomedium import IsoMedium
from console.core.questions import (
    ABORT,
    RETRY,
    PolicyAnswerer,
    Question,
    QuestionKind,
    VolumeWaiter,
    answering,
    insert_volume,
    passphrase,
)
from console.nuke import NUKE_POLICY, VOLUME_HINT
from tests.isovolumes import write_volumes

xorriso = pytest.mark.skipif(shutil.which("xorriso") is None, reason="needs xorriso")

OURS = "4f1c2a3b-0000-4000-8000-000000000001"
THEIRS = "9d8e7f60-0000-4000-8000-000000000002"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeTime:
    """A clock that moves only when slept on; `at` runs something once it reaches a time."""

    def __init__(self):
        self.now = 0.0
        self.events: list[tuple[float, object]] = []

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        while self.events and self.events[0][0] <= self.now:
            self.events.pop(0)[1]()

    def at(self, when: float, action) -> None:
        self.events.append((when, action))
        self.events.sort(key=lambda e: e[0])


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory):
    if shutil.which("xorriso") is None:
        pytest.skip("needs xorriso")
    ours, data = write_volumes(tmp_path_factory.mktemp("ours"), OURS)
    theirs, _ = write_volumes(tmp_path_factory.mktemp("theirs"), THEIRS, seed=5)
    return ours, theirs, data


def read_all(medium, data, listener) -> None:
    for name, content in data.items():
        with medium.open_piece(name, listener) as stream:
            assert stream.read() == content


def test_the_question_names_the_volume_by_number_and_label_and_offers_retry_or_abort():
    question = insert_volume(2, OURS, "/dev/sr0", "The set goes on on volume 2.",
                             label="web1-4f1c2a3b-2", volumes=3)
    assert question.text == (f"The set goes on on volume 2. Insert volume 2 of the set {OURS} "
                             "(labelled web1-4f1c2a3b-2, of 3 volumes) into /dev/sr0, then "
                             "retry.")
    assert (question.volume, question.volumes, question.label) == (2, 3, "web1-4f1c2a3b-2")
    assert question.choices == (RETRY, ABORT) and question.default == ABORT


@xorriso
def test_on_a_terminal_the_volume_is_asked_for_and_retry_reads_it_again(two_sets, tmp_path):
    ours, theirs, data = two_sets
    shutil.copy(ours[0], tmp_path / ours[0].name)
    shutil.copy(theirs[1], tmp_path / ours[1].name)  # another set's volume 2 in its place

    class Swapping(Terminal):
        """Each answer typed after the right volumes were put in place."""

        def readline(self):
            for path in ours[1:]:
                shutil.copy(path, tmp_path / path.name)
            return super().readline()

    out = io.StringIO()
    listener = answering(lambda e: None, cli_answerer(None, Swapping("r\n"), out, shell=None))
    medium = IsoMedium(str(tmp_path / ours[0].name))
    try:
        read_all(medium, data, listener)
    finally:
        medium.close()
    said = " ".join(out.getvalue().split())
    assert (f"Insert volume 2 of set {OURS}: {tmp_path}/{ours[1].name} holds volume 2 of "
            f"{len(theirs)} of set {THEIRS}") in said
    assert "another set. Insert volume 2 of the set" in said
    assert f"(labelled web1-4f1c2a3b-2, volume id RC_4F1C2A3B_2, of {len(ours)} volumes)" in said
    assert said.endswith("Retry or abort? [abort]")


@xorriso
def test_nuke_mode_waits_for_the_volume_refusing_a_wrong_one_and_goes_on(two_sets, tmp_path):
    ours, theirs, data = two_sets
    shutil.copy(ours[0], tmp_path / ours[0].name)
    time = FakeTime()
    time.at(10, lambda: shutil.copy(theirs[1], tmp_path / ours[1].name))
    time.at(20, lambda: [shutil.copy(p, tmp_path / p.name) for p in ours[1:]])
    said, events = [], []
    waiter = VolumeWaiter(60, poll=3, say=said.append, clock=lambda: time.now,
                          sleep=time.sleep)
    listener = answering(events.append, PolicyAnswerer(NUKE_POLICY, fallback=waiter))
    medium = IsoMedium(str(tmp_path / ours[0].name))
    try:
        read_all(medium, data, listener)
    finally:
        medium.close()
    assert 20 <= time.now < 24  # found at the first look after it was put in
    assert said[0].endswith("Waiting up to 60 seconds for it.")
    messages = [e.text for e in events if isinstance(e, Message)]
    # each state said once, not at every look
    assert messages == [f"There is no {tmp_path}/{ours[1].name}.",
                        f"{tmp_path}/{ours[1].name} holds volume 2 of {len(theirs)} of set "
                        f"{THEIRS} (host web1, made 2026-01-02T03:04:05+00:00): another set."]
    asked = [e for e in events if isinstance(e, Question)]
    assert len(asked) == 7  # at 0, 3, ... 18: the look at 21 finds it


@xorriso
def test_nuke_mode_fails_in_words_when_the_volume_does_not_come_in_time(two_sets, tmp_path):
    ours, _, data = two_sets
    shutil.copy(ours[0], tmp_path / ours[0].name)
    time = FakeTime()
    waiter = VolumeWaiter(30, poll=3, clock=lambda: time.now, sleep=time.sleep,
                          hint=VOLUME_HINT)
    listener = answering(lambda e: None, PolicyAnswerer(NUKE_POLICY, fallback=waiter))
    medium = IsoMedium(str(tmp_path / ours[0].name))
    try:
        with pytest.raises(RestoreError) as raised:
            read_all(medium, data, listener)
    finally:
        medium.close()
    assert time.now == 30
    assert raised.value.message.startswith(
        f"Volume 2 of the set was not inserted within 30 seconds: There is no {tmp_path}/"
        f"{ours[1].name}. Insert volume 2 of the set {OURS} (labelled web1-4f1c2a3b-2")
    assert "--volume-wait" in raised.value.hint and "restore.volume_wait=" in raised.value.hint


def test_the_waiter_leaves_other_questions_to_nobody_in_words():
    waiter = VolumeWaiter(30, sleep=lambda s: pytest.fail("no wait for a passphrase"))
    with pytest.raises(RestoreError, match="Asked, with nobody to answer: Passphrase"):
        waiter(passphrase("/dev/sda3"))


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True,
                          text=True, timeout=60)


def test_volume_wait_is_for_nuke_mode_and_takes_seconds():
    proc = run_cli("--volume-wait", "60", "inspect", "/nonexistent")
    assert proc.returncode == 2 and "--volume-wait is for nuke mode" in proc.stderr
    proc = run_cli("--nuke", "--volume-wait", "soon")
    assert proc.returncode == 2 and "'soon' is not a number of seconds" in proc.stderr


def test_init_passes_restore_volume_wait_to_nuke_mode_and_hands_an_iso_drive_to_the_console():
    init = files("console.core.rescue").joinpath("init.sh").read_text()
    assert 'wait=$(arg restore.volume_wait "")' in init
    assert 'set -- "$@" --volume-wait "$wait"' in init
    assert '[ -f "$SET/restore-console-volume.json" ]' in init
    assert QuestionKind.INSERT_VOLUME not in NUKE_POLICY  # the waiter answers it
