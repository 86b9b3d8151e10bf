"""Shared test set-up: skipping system tests, with the reason, where they cannot run."""

from __future__ import annotations

import os
import shutil

import pytest

SYSTEM_TOOLS = ("sfdisk", "losetup", "mount", "mkfs.ext4", "mkfs.xfs", "mkswap", "tar", "rsync",
                "setfacl", "partx", "wipefs", "blkid")


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        reason = "needs root (loop devices, mount): run make test as root, as CI does"
    elif missing := [t for t in SYSTEM_TOOLS if shutil.which(t) is None]:
        reason = f"needs {', '.join(missing)} (make test installs them)"
    else:
        return
    for item in items:
        if "system" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))
