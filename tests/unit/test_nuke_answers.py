"""Nuke mode's answers: nobody is at the keyboard, so a LUKS passphrase comes from
--passphrase-file, and without it the question stops the restore in words."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from console.core.errors import RestoreError
from console.core.questions import answering, ask, passphrase
from console.nuke import nuke_answerer


def listener(passphrase_file):
    said = []
    return answering(lambda event: None, nuke_answerer(1, passphrase_file, said.append))


def test_a_luks_passphrase_comes_from_the_first_line_of_the_file(tmp_path):
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse\nnot this line\n")
    assert ask(listener(str(secret)), passphrase("luks-root (5f0c…)")) == "correct horse"


def test_without_the_file_the_passphrase_question_stops_nuke_mode_in_words():
    with pytest.raises(RestoreError) as refused:
        ask(listener(None), passphrase("luks-root (5f0c…)"))
    assert "Passphrase for the LUKS container luks-root" in refused.value.message
    assert "--passphrase-file" in refused.value.hint


def test_passphrase_file_is_for_nuke_mode_on_the_top_level(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "console", "--log", "/dev/null",
                           "--passphrase-file", str(tmp_path / "p"), "inspect", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--passphrase-file is for nuke mode" in proc.stderr


def test_init_gives_nuke_mode_the_passphrase_file_on_the_media_or_by_its_path(tmp_path):
    """init's own arg and nuke_command, run by sh over a command line of the test's."""
    init = (Path(__file__).parents[2] / "console/core/rescue/init.sh").read_text()
    functions = "\n".join(re.search(rf"^{name}\(\) {{\n.*?^}}$", init, re.S | re.M).group(0)
                          for name in ("arg", "nuke_command"))
    cmdline = tmp_path / "cmdline"
    functions = functions.replace("/proc/cmdline", str(cmdline))
    for given, expected in [("restore.passphrase_file=keys/root", "/media/set/keys/root"),
                            ("restore.passphrase_file=/run/key", "/run/key")]:
        cmdline.write_text(f"console=ttyS0 restore=nuke {given}\n")
        proc = subprocess.run(["sh", "-c", f"MEDIA=/media/set SET=/media/set\n{functions}\n"
                               "nuke_command"], capture_output=True, text=True, check=True)
        assert proc.stdout.split() == ["restore-console", "--nuke", "--set", "/media/set",
                                       "--passphrase-file", expected]
