"""The parts of the rescue build that decide something without building: the kernel command
line of the CD and network boot, which kernel is newest, which requirements apply, what
init.sh is."""

from __future__ import annotations

import subprocess
from importlib.resources import files

from console.core.rescue.boot import KERNEL_COMMAND_LINE, command_line_of
from console.core.rescue.build import kernel_version_of, version_key
from console.core.rescue.python import dependencies, marker_applies


def test_an_appended_option_replaces_the_default_of_the_same_name_and_consoles_add_up():
    line = command_line_of(["restore=expert", "restore.set=/backups/host1", "console=ttyS1"])
    words = line.split()
    assert "restore=expert" in words and "restore=interactive" not in words
    assert "restore.set=/backups/host1" in words
    assert words.count("restore.media=auto") == 1
    assert [w for w in words if w.startswith("console=")] == [
        "console=tty0", "console=ttyS0,115200", "console=ttyS1"]
    assert command_line_of([]) == KERNEL_COMMAND_LINE


def test_the_newest_kernel_is_chosen_by_its_version_numbers_not_as_text():
    kernels = ["/boot/vmlinuz-6.1.0-9-amd64", "/boot/vmlinuz-6.1.0-57-amd64",
               "/boot/vmlinuz-5.10.0-30-amd64"]
    newest = max(kernels, key=lambda k: version_key(kernel_version_of(k)))
    assert kernel_version_of(newest) == "6.1.0-57-amd64"
    assert kernel_version_of("/tmp/bzImage") == ""


def test_a_requirement_for_an_older_python_is_left_out_on_3_11():
    assert not marker_applies('tomli>=1; python_version < "3.11"')
    assert marker_applies('exceptiongroup; python_version < "3.12"')
    assert marker_applies("rich>=13")


def test_the_console_s_dependencies_are_found_through_its_installed_metadata():
    names = {d.metadata["Name"].lower() for d in dependencies("restore-console")}
    assert {"textual", "rich", "pyudev", "pyparted", "humanize", "blake3", "zstandard"} <= names
    assert "pytest" not in names  # the test extra is not the console's


def test_init_is_a_shell_script_announcing_each_stage_in_the_documented_words():
    init = files("console.core.rescue").joinpath("init.sh").read_text()
    assert subprocess.run(["sh", "-n"], input=init.encode()).returncode == 0
    for stage in ("mounted proc, sys, dev, run", "inserted the essential modules",
                  "inserted the modules the hardware needs", "starting the console"):
        assert f'say "{stage}' in init, stage
