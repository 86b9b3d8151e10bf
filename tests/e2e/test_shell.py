"""The test bed itself, on one machine at a busybox shell: commands and their output, keys as
the terminals send them, the screen a full-screen program draws."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import BOOT_TIMEOUT, READY
from tests.e2e.vm import Machine


@pytest.fixture(scope="module")
def shell(kernel, shell_initrd, tmp_path_factory):
    machine = Machine(workdir=tmp_path_factory.mktemp("shell-vm"), kernel=kernel.vmlinuz,
                      initrd=shell_initrd)
    with machine.running() as vm:
        vm.console.wait_for(READY, timeout=BOOT_TIMEOUT)
        yield vm


def test_the_debian_kernel_boots_to_a_shell_that_runs_commands_and_returns_their_output(
        shell, kernel):
    assert shell.console.run("uname -r").output == f"{kernel.version}\n"
    assert shell.console.run("echo $((6 * 7)); echo second line").output == "42\nsecond line\n"


def test_the_exit_status_of_a_command_is_returned(shell):
    assert shell.console.run("test -e /nowhere", check=False).status == 1


def test_keys_reach_the_guest_as_each_terminal_sends_them(shell):
    console = shell.console
    for terminal, sent in (("xterm", "1b 4f 50"), ("vt220", "1b 5b 31 31 7e"),
                           ("linux", "1b 5b 5b 41")):
        # Keys typed while the shell still edits the line would go to its line editor.
        console.send_line("echo @reading; read -r line; printf '%s' \"$line\" | od -An -tx1")
        console.wait_for("@reading\n")
        console.press("F1", "Enter", terminal=terminal)
        assert console.wait_for(re.compile(r"\n((?: [0-9a-f]{2})+)\n")).group(1).strip() \
            == sent, terminal


def test_ctrl_c_interrupts_the_running_command(shell):
    console = shell.console
    # ash reads a line with the terminal in raw mode: a Ctrl-C then is a key, not a signal.
    # The line has run once the word it prints is there.
    console.send_line("echo sleeping; sleep 600; echo slept")
    console.wait_for("sleeping\n")
    console.press("Ctrl-C")
    assert shell.console.run("echo back").output == "back\n"
    assert not re.search(r"^slept$", console.transcript.text, re.MULTILINE)


def test_the_screen_shows_what_a_full_screen_program_draws_at_its_place(shell):
    console = shell.console
    # Back to the top left before the shell goes on: nothing scrolls.
    console.send_line(r"clear; printf '\033[10;20Hhello-screen\033[H'; echo @drawn-$((1 + 1))")
    console.wait_for("@drawn-2")  # printed, not the echo of the line typed
    screen = console.wait_for_screen("hello-screen", timeout=10).split("\n")
    assert screen[9][19:31] == "hello-screen"


def test_a_wait_that_times_out_fails_with_the_screen_and_the_log(shell):
    shell.console.send_line("echo visible-before-the-timeout")
    with pytest.raises(AssertionError) as failure:
        shell.console.wait_for("never printed", timeout=2)
    assert "no 'never printed' after 2 s" in str(failure.value)
    assert "visible-before-the-timeout" in str(failure.value).split("--- screen ---")[1]
