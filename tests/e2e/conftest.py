"""Fixtures of the e2e tests: the Debian kernel, a busybox initramfs, machines that are always
killed when the test ends. The tests here are marked e2e (tests/conftest.py) and skip, with the
reason, where QEMU or an installed kernel is missing."""

from __future__ import annotations

import contextlib
import itertools
import shutil
from collections.abc import Callable

import pytest

from tests.e2e.initramfs import Kernel, build_initramfs
from tests.e2e.vm import QEMU, Machine, RunningMachine

BOOT_TIMEOUT = 180  # TCG on two shared cores; a boot takes about 7 s when the machine is idle
READY = "e2e: ready"


def missing_for_e2e() -> str | None:
    """Why the e2e tests cannot run here, or None."""
    if shutil.which(QEMU) is None:
        return f"needs {QEMU} (Debian package qemu-system-x86; make test installs it)"
    if Kernel.installed() is None:
        return ("needs a kernel in /boot with its modules (Debian package linux-image-amd64; "
                "make test installs it)")
    return None


@pytest.fixture(scope="session")
def kernel() -> Kernel:
    return Kernel.installed()


@pytest.fixture(scope="session")
def shell_initrd(kernel, tmp_path_factory):
    """busybox, the storage and network modules inserted at boot, isofs there for modprobe."""
    return build_initramfs(tmp_path_factory.mktemp("initrd") / "shell.cpio", kernel=kernel,
                           available=("isofs",))


@pytest.fixture
def start_machine(tmp_path) -> Callable[..., RunningMachine]:
    """start_machine(**Machine fields) -> a running machine, killed when the test ends."""
    with contextlib.ExitStack() as machines:
        numbers = itertools.count()

        def start(**fields) -> RunningMachine:
            workdir = tmp_path / f"vm{next(numbers)}"  # serial.log, qemu.stderr, qemu.cmdline
            return machines.enter_context(Machine(workdir=workdir, **fields).running())
        yield start


@pytest.fixture
def boot_shell(start_machine, kernel, shell_initrd) -> Callable[..., RunningMachine]:
    """boot_shell(disks=..., cdroms=..., network=...) -> a machine at the busybox shell."""
    def boot(**fields) -> RunningMachine:
        vm = start_machine(kernel=kernel.vmlinuz, initrd=shell_initrd, **fields)
        vm.console.wait_for(READY, timeout=BOOT_TIMEOUT)
        return vm
    return boot
