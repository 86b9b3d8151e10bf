"""Packing the image: a cpio archive (newc, what the kernel unpacks) compressed with zstd, and
the squashfs of the tools that stay on the media (--tools-on-media)."""

from __future__ import annotations

import os
import subprocess

from ..errors import RestoreError
from ..system import run

TOOLS = ("cpio", "zstd", "mksquashfs")  # run here, on the build machine

ZSTD_LEVEL = "-19"


def pack_initramfs(root: str, target: str) -> int:
    """root as cpio newc + zstd into target; returns its size in bytes."""
    names = "".join(f"{name}\n" for name in sorted(tree_names(root))).encode()
    with open(target, "wb") as out:
        cpio = subprocess.Popen(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"], cwd=root,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        zstd = subprocess.Popen(["zstd", "-q", ZSTD_LEVEL, "-T0", "-c"], stdin=cpio.stdout,
                                stdout=out, stderr=subprocess.PIPE)
        cpio.stdout.close()
        cpio.stdin.write(names)
        cpio.stdin.close()
        cpio_errors = cpio.stderr.read()
        if cpio.wait() != 0 or zstd.wait() != 0:
            raise RestoreError("Could not pack the rescue initramfs: "
                               f"{cpio_errors.decode(errors='replace').strip()}.",
                               "Check the free space where it is written, then build again.")
    return os.path.getsize(target)


def tree_names(root: str) -> list[str]:
    """Every path below root, relative, as cpio takes them (directories before what they hold)."""
    names = []
    for dirpath, dirnames, files in os.walk(root):
        relative = os.path.relpath(dirpath, root)
        for name in dirnames + files:
            names.append(name if relative == "." else f"{relative}/{name}")
    return names


def pack_squashfs(root: str, target: str) -> int:
    if os.path.exists(target):
        os.unlink(target)
    run(["mksquashfs", root, target, "-comp", "zstd", "-all-root", "-quiet", "-no-progress"],
        "pack the tools of the rescue media")
    return os.path.getsize(target)
