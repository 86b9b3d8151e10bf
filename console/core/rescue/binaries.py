"""Programs into the image: busybox for the shell and the small commands, the tools the core
declares, then the shared libraries of every ELF file in the image (as ldd lists them), stripped."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from ..errors import RestoreError
from ..system import output, run
from .image import RescueImage
from .tools import declared_tools

TOOLS = ("busybox", "ldd", "strip", "ldconfig")  # run here, on the build machine

BUSYBOX = "/usr/bin/busybox"  # Debian's busybox-static
# Beside the tools the core runs: what init and the expert shell need that busybox lacks or
# does worse (ldconfig lets ctypes find libudev for pyudev).
INIT_TOOLS = ("ldconfig",)
# Loaded by name at run time (ctypes, glibc's thread cancellation), so ldd cannot see them.
DLOPENED = ("libudev.so.1", "libgcc_s.so.1")
LDD_PATH = re.compile(r"(/\S+) \(0x[0-9a-f]+\)$")


def add_busybox(image: RescueImage) -> int:
    if not os.path.exists(BUSYBOX):
        raise RestoreError(f"{BUSYBOX} is missing on this machine.",
                           "Install busybox-static (the project's 'make deps' does).")
    image.add_file(BUSYBOX, "/usr/bin/busybox")
    applets = output(["busybox", "--list-full"], "list the busybox applets").split()
    added = 0
    for applet in applets:
        # A real tool of the same name replaces the applet later (add_tools).
        if not image.has("/" + applet):
            image.add_symlink("/usr/bin/busybox", "/" + applet)
            added += 1
    return added


def tool_names() -> set[str]:
    return declared_tools() | set(INIT_TOOLS)


def add_tools(image: RescueImage) -> int:
    missing = []
    names = tool_names()
    for tool in sorted(names):
        path = shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")
        if path is None:
            missing.append(tool)
            continue
        if os.path.islink(image.inside(usr_path(path))):
            os.unlink(image.inside(usr_path(path)))  # busybox's applet of that name
        image.add_file(os.path.realpath(path), usr_path(path))
    if missing:
        raise RestoreError(f"The tools {', '.join(missing)} are missing on this machine.",
                           "Install them (the project's 'make deps' does), then build again.")
    return len(names)


def usr_path(path: str) -> str:
    """/sbin/x and /usr/sbin/x are one file on Debian: always the /usr name inside the image."""
    return path if path.startswith("/usr/") else "/usr" + path


def add_libraries(image: RescueImage) -> int:
    """Every shared library the image's ELF files need, and theirs, until nothing new comes."""
    added = 0
    for name in DLOPENED:
        path = library_path(name)
        if path and image.add_file(path):
            added += 1
    done: set[str] = set()
    while True:
        todo = [p for p in image.elf_files if p not in done and not p.endswith(".ko")]
        if not todo:
            break
        for path in todo:
            done.add(path)
            for library in needed_libraries(image.inside(path)):
                if image.add_file(library):
                    added += 1
    os.makedirs(image.inside("/etc"), exist_ok=True)
    run(["ldconfig", "-r", image.root], "make the library cache of the rescue image")
    return added


def library_path(name: str) -> str | None:
    for directory in ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    return None


def needed_libraries(path: str) -> list[str]:
    proc = subprocess.run(["ldd", path], capture_output=True, text=True)
    if proc.returncode != 0:  # static, or not a program: nothing to follow
        return []
    found = []
    for line in proc.stdout.splitlines():
        match = LDD_PATH.search(line.strip())
        if match:
            found.append(match.group(1))
    return found


def strip_shared_objects(image: RescueImage) -> int:
    """Symbols and debug sections off every ELF file but the kernel's (modules are signed)."""
    paths = [image.inside(p) for p in image.elf_files if not p.endswith(".ko")]
    for start in range(0, len(paths), 200):
        # strip leaves a file it does not understand alone, and says so: not a failure here.
        subprocess.run(["strip", "--strip-unneeded", *paths[start:start + 200]],
                       capture_output=True)
    return len(paths)
