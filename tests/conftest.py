"""Shared test set-up: skipping system tests, with the reason, where they cannot run; running
Pilot tests (coroutines); where the SVG snapshots are kept."""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
from pathlib import Path

import pytest

SYSTEM_TOOLS = ("sfdisk", "losetup", "mount", "mkfs.ext4", "mkfs.xfs", "mkswap", "tar", "rsync",
                "setfacl", "partx", "wipefs", "blkid")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Pilot tests are coroutines; with no asyncio plugin among the test dependencies, each one
    runs in an event loop of its own."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**args))
        return True
    return None


@pytest.fixture(scope="session", autouse=True)
def restore_journals_of_the_tests(tmp_path_factory):
    """Restores run by the tests (also as subprocesses, which inherit the environment) keep
    their journals in a directory of the test session, not in /var/lib/restore-console."""
    previous = os.environ.get("RESTORE_CONSOLE_STATE")
    os.environ["RESTORE_CONSOLE_STATE"] = str(tmp_path_factory.mktemp("restore-state"))
    yield
    if previous is None:
        os.environ.pop("RESTORE_CONSOLE_STATE", None)
    else:
        os.environ["RESTORE_CONSOLE_STATE"] = previous


RESCUE_BUILD_NEEDS = ("busybox", "python3.11", "cpio", "zstd", "ldd", "strip", "depmod")


@pytest.fixture(scope="session")
def rescue_system(tmp_path_factory):
    """The rescue system (kernel, initrd.img, pxe/), built once per test session (about 45 s,
    most of it zstd -19): what the rescue tests unpack and the e2e tests boot."""
    from console.core.errors import RestoreError
    from console.core.rescue.build import build_rescue
    if missing := [t for t in RESCUE_BUILD_NEEDS if shutil.which(t) is None]:
        pytest.skip(f"building the rescue system needs {', '.join(missing)} (make deps)")
    try:
        return build_rescue(str(tmp_path_factory.mktemp("rescue")))
    except RestoreError as exc:
        pytest.skip(f"the rescue system cannot be built here: {exc.message}")


def pytest_collection_modifyitems(config, items):
    _mark_e2e(items)
    if os.geteuid() != 0:
        reason = "needs root (loop devices, mount): run make test as root, as CI does"
    elif missing := [t for t in SYSTEM_TOOLS if shutil.which(t) is None]:
        reason = f"needs {', '.join(missing)} (make test installs them)"
    else:
        return
    for item in items:
        if "system" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


def _mark_e2e(items) -> None:
    """The tests in tests/e2e boot QEMU: marked e2e, skipped with the reason where they cannot."""
    from tests.e2e.conftest import missing_for_e2e

    e2e_dir = Path(__file__).parent / "e2e"
    e2e = [item for item in items if item.path.is_relative_to(e2e_dir)]
    reason = missing_for_e2e() if e2e else None
    for item in e2e:
        item.add_marker(pytest.mark.e2e)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


# SVG snapshots of the screens live at the repository root, snapshots/<test file>/<test>.svg,
# not in syrupy's default tests/**/__snapshots__. pytest-textual-snapshot's snap_compare picks
# its syrupy extension by the module-level name SVGImageExtension when it runs, and syrupy asks
# the extension's dirname() where the files are: a subclass with another dirname does it.
try:
    import pytest_textual_snapshot
except ImportError:  # the snapshot tests then fail to find their fixture, saying so
    pytest_textual_snapshot = None

SNAPSHOTS = Path(__file__).resolve().parent.parent / "snapshots"

if pytest_textual_snapshot is not None:
    class _SnapshotsAtRepositoryRoot(pytest_textual_snapshot.SVGImageExtension):
        @classmethod
        def dirname(cls, *, test_location) -> str:
            return str(SNAPSHOTS / test_location.basename)

    pytest_textual_snapshot.SVGImageExtension = _SnapshotsAtRepositoryRoot
