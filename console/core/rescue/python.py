"""Python into the image: Debian's python3 with its standard library as .pyc only (no tests,
IDLE, tkinter and the like), and the console with the packages it depends on, from the
environment this builder runs in. The extensions of those packages are built for CPython 3.11,
Debian's ABI: the image's check imports them with Debian's python."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil

import console

from ..errors import RestoreError
from ..system import run
from .image import RescueImage

PYTHON = "/usr/bin/python3.11"
TOOLS = (PYTHON,)  # run here, on the build machine: it compiles what it will load
STDLIB = "/usr/lib/python3.11"
DIST_PACKAGES = "/usr/lib/python3/dist-packages"  # on Debian's python3 path
# Parts of the standard library a restore console never uses.
STDLIB_LEFT_OUT = {"test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3",
                   "pydoc_data", "distutils", "venv", "config-3.11-x86_64-linux-gnu",
                   "site-packages", "dist-packages", "__pycache__", "turtle.py", "__phello__",
                   "unittest"}
# Extensions left out with them: _ssl and _hashlib would bring libssl and libcrypto (hashlib
# has its own sha and blake2 without them).
EXTENSIONS_LEFT_OUT = re.compile(r"^(_tkinter|_test|xxlimited|_xxtest|_ctypes_test|_ssl|"
                                 r"_hashlib|_dbm|_gdbm|nis)")
REQUIREMENT_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
CONSOLE_PACKAGES = ("console", "widgets")


def add_python(image: RescueImage) -> int:
    if not os.path.exists(PYTHON):
        raise RestoreError(f"{PYTHON} is missing on this machine.",
                           "Install python3 (Debian's), then build again.")
    image.add_file(PYTHON)
    image.add_symlink("python3.11", "/usr/bin/python3")
    count = 0
    for dirpath, dirnames, files in os.walk(STDLIB):
        dirnames[:] = [d for d in dirnames if d not in STDLIB_LEFT_OUT]
        for name in files:
            if name in STDLIB_LEFT_OUT or name.endswith(".pyc"):
                continue
            if dirpath.endswith("lib-dynload") and EXTENSIONS_LEFT_OUT.match(name):
                continue
            count += image.add_file(os.path.join(dirpath, name))
    return count


def add_console(image: RescueImage) -> int:
    """The console's packages and its dependencies, as installed beside this builder."""
    count = 0
    source = os.path.dirname(os.path.dirname(console.__file__))
    for package in CONSOLE_PACKAGES:
        for dirpath, dirnames, files in os.walk(os.path.join(source, package)):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for name in files:
                if not name.endswith((".pyc", ".pyo")):
                    path = os.path.join(dirpath, name)
                    count += image.add_file(path, DIST_PACKAGES + path[len(source):])
    for dist in dependencies("restore-console"):
        for file in dist.files or ():
            if str(file).startswith("..") or "__pycache__" in file.parts:
                continue  # scripts in bin/, and bytecode of another python
            path = str(dist.locate_file(file))
            if os.path.isfile(path):
                count += image.add_file(path, f"{DIST_PACKAGES}/{file}")
    image.write("/usr/bin/restore-console",
                "#!/usr/bin/python3\nimport sys\nfrom console.cli import main\nsys.exit(main())\n",
                0o755)
    return count


def dependencies(name: str) -> list[importlib.metadata.Distribution]:
    """The distributions name needs, and theirs (extras and markers that do not apply left out)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    try:
        todo = list(importlib.metadata.requires(name) or ())
    except importlib.metadata.PackageNotFoundError:
        raise RestoreError(f"mkrescue finds the console's packages through the installed "
                           f"{name}, which this python does not have.",
                           "Run it from the project's environment (.venv/bin/restore-console, "
                           "after make venv).") from None
    while todo:
        requirement = todo.pop()
        if "extra ==" in requirement or not marker_applies(requirement):
            continue
        dep = normalized(REQUIREMENT_NAME.match(requirement).group(1))
        if dep in found:
            continue
        try:
            found[dep] = importlib.metadata.distribution(dep)
        except importlib.metadata.PackageNotFoundError:
            if ";" in requirement:  # for another platform (sys_platform == "win32" ...)
                continue
            raise RestoreError(f"The package {dep}, which the console needs, is not installed.",
                               "Install the console's dependencies (make venv).") from None
        todo.extend(found[dep].requires or ())
    return list(found.values())


def marker_applies(requirement: str) -> bool:
    """The markers that matter on Debian's 3.11: python_version comparisons with '<'."""
    match = re.search(r"python_version\s*<\s*['\"]3\.(\d+)['\"]", requirement)
    return not match or 11 < int(match.group(1))


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def compile_python(image: RescueImage) -> int:
    """Every .py into a .pyc beside it (read without its source), compiled by Debian's python
    for its own magic number; then the sources go."""
    roots = [image.inside(STDLIB), image.inside(DIST_PACKAGES)]
    # A file that does not compile (written for another python) keeps its source, as it came.
    run([PYTHON, "-m", "compileall", "-q", "-b", "-j", "0", *roots],
        "compile the rescue image's python", check=False)
    count = 0
    for root in roots:
        for dirpath, dirnames, files in os.walk(root):
            for name in files:
                if name.endswith(".py") and name + "c" in files:
                    os.unlink(os.path.join(dirpath, name))
                    count += 1
            for name in dirnames:
                if name == "__pycache__":
                    shutil.rmtree(os.path.join(dirpath, name))
    return count


