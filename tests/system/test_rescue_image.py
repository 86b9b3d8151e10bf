"""The rescue initramfs, unpacked on the host: every tool the core declares is in it and runs
there (chroot), its python imports the console and its compiled extensions, the kernel modules
for each kind of media are there with their index, and it stays within its size goal."""

from __future__ import annotations

import os
import subprocess

import pytest

from console.core.rescue.build import SIZE_GOAL
from console.core.rescue.kmodules import MODULES
from console.core.rescue.tools import declared_tools

pytestmark = pytest.mark.system

# Tools without --version say theirs with -V; lvm with its command "version" (its --version
# is an invalid command line, exit 3).
VERSION_OPTION = {"dumpe2fs": "-V", "mkfs.ext2": "-V", "mkfs.ext3": "-V", "mkfs.ext4": "-V",
                  "mkfs.xfs": "-V", "xfs_db": "-V", "blkid": "-V", "lvm": "version"}


@pytest.fixture(scope="module")
def unpacked(rescue_system, tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("initrd")
    initrd = os.path.join(rescue_system.directory, "initrd.img")
    subprocess.run(f"zstd -dc {initrd} | cpio -id --quiet", shell=True, cwd=root, check=True)
    return str(root)


def in_image(root: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["chroot", root, *argv], capture_output=True, text=True,
                          env={"PATH": "/usr/sbin:/usr/bin", "HOME": "/root", "TERM": "vt220"})


@pytest.mark.parametrize("tool", sorted(declared_tools()))
def test_every_tool_the_core_declares_is_in_the_initramfs_and_runs_there(unpacked, tool):
    where = [d for d in ("usr/sbin", "usr/bin") if os.path.exists(os.path.join(unpacked, d, tool))]
    assert where, f"{tool} is not in the initramfs"
    path = os.path.join(unpacked, where[0], tool)
    assert not os.path.islink(path), f"{tool} is busybox's applet, not the tool itself"
    proc = in_image(unpacked, tool, VERSION_OPTION.get(tool, "--version"))
    assert proc.returncode == 0, f"{tool} does not run in the initramfs: {proc.stderr}"


def test_python_there_imports_the_console_and_its_compiled_extensions(unpacked):
    proc = in_image(unpacked, "python3", "-c",
                    "import sys, console.cli, textual.app, parted, blake3, zstandard, pyudev, "
                    "humanize, sqlite3, ctypes.util; "
                    "assert ctypes.util.find_library('udev'), 'no libudev for pyudev'; "
                    "print(sys.version_info[:2], zstandard.backend, blake3.blake3(b'x').hexdigest())")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("(3, 11) cext ")
    help_text = in_image(unpacked, "restore-console", "--help")
    assert help_text.returncode == 0, help_text.stderr
    assert "mkrescue" in help_text.stdout


def test_the_standard_library_is_there_as_bytecode_only_without_tests_and_tkinter(unpacked):
    stdlib = os.path.join(unpacked, "usr/lib/python3.11")
    sources = [os.path.join(d, f) for d, _, files in os.walk(stdlib) for f in files
               if f.endswith(".py")]
    assert sources == []
    assert os.path.exists(os.path.join(stdlib, "os.pyc"))
    for left_out in ("test", "idlelib", "tkinter", "ensurepip", "lib2to3", "pydoc_data"):
        assert not os.path.exists(os.path.join(stdlib, left_out)), left_out


def test_the_modules_of_every_kind_of_media_are_indexed_with_their_dependencies(unpacked,
                                                                                rescue_system):
    modules = os.path.join(unpacked, "usr/lib/modules", rescue_system.kernel_version)
    with open(os.path.join(modules, "modules.dep")) as f:
        dep = {line.split(":")[0].rsplit("/", 1)[-1].removesuffix(".ko").replace("-", "_"): line
               for line in f}
    for kind in ("disks", "cd", "tape", "nfs", "filesystems", "volumes"):
        for name in ("virtio_blk", "sr_mod", "isofs", "st", "nfsv4", "xfs", "btrfs", "dm_mod"):
            if name in MODULES[kind]:
                assert name in dep, f"{name} ({kind}) is not in the initramfs"
    assert "sunrpc" in dep  # a dependency of nfs, not named in MODULES
    for line in dep.values():  # every dependency listed is there
        for needed in line.split(":", 1)[1].split():
            assert os.path.exists(os.path.join(modules, needed)), needed
    with open(os.path.join(modules, "modules.alias")) as f:  # what coldplug looks up
        assert "alias virtio:d00000002v* virtio_blk" in f.read()  # a virtio disk's modalias


def test_terminfo_of_the_consoles_and_serial_terminals_is_there(unpacked):
    for term in ("linux", "vt100", "vt220", "xterm"):
        assert os.path.exists(os.path.join(unpacked, "usr/share/terminfo", term[0], term))


def test_the_initramfs_is_within_its_size_goal_and_the_network_boot_files_name_it(
        rescue_system):
    assert rescue_system.initramfs_size <= SIZE_GOAL
    pxe = os.path.join(rescue_system.directory, "pxe")
    assert sorted(os.listdir(pxe)) == ["cmdline", "initrd.img", "rescue.ipxe", "vmlinuz"]
    script = open(os.path.join(pxe, "rescue.ipxe")).read()
    command_line = open(os.path.join(pxe, "cmdline")).read().strip()
    assert script.startswith("#!ipxe\n")
    assert f"kernel vmlinuz initrd=initrd.img {command_line}\n" in script
    assert "console=ttyS0,115200" in command_line and "restore=interactive" in command_line


def test_init_is_a_shell_script_busybox_reads(unpacked):
    proc = in_image(unpacked, "sh", "-n", "/init")
    assert proc.returncode == 0, proc.stderr
    assert os.access(os.path.join(unpacked, "init"), os.X_OK)
