"""A machine never outlives its test, and a machine that stops fails the wait at once, saying
what it showed, instead of at the end of the timeout."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.e2e.initramfs import build_initramfs
from tests.e2e.vm import Machine, VmError


def test_qemu_is_killed_when_the_test_fails_inside_the_machine_block(kernel, shell_initrd,
                                                                    tmp_path):
    machine = Machine(workdir=tmp_path, kernel=kernel.vmlinuz, initrd=shell_initrd)
    with pytest.raises(RuntimeError, match="the test failed"):
        with machine.running() as vm:
            vm.console.wait_for("Linux version", timeout=120)
            raise RuntimeError("the test failed")
    assert vm.process.returncode == -signal.SIGKILL
    assert not Path(f"/proc/{vm.process.pid}").exists()


def test_a_machine_that_stops_fails_the_wait_at_once_with_its_last_words(kernel, tmp_path):
    initrd = build_initramfs(tmp_path / "ends.cpio", kernel=kernel, modules=(),
                             init="#!/bin/busybox sh\necho e2e: this init ends at once\n")
    machine = Machine(workdir=tmp_path / "vm", kernel=kernel.vmlinuz, initrd=initrd)
    with machine.running() as vm:
        started = time.monotonic()
        with pytest.raises(VmError) as failure:
            vm.console.wait_for("never printed", timeout=600)
    assert time.monotonic() - started < 300
    said = str(failure.value)
    assert "the machine stopped (QEMU exit status 0) before 'never printed'" in said
    assert "Kernel panic" in said  # the end of the log: panic=-1 and -no-reboot made it an exit
    assert "e2e: this init ends at once" in machine.serial_log.read_text()  # and all before it
