"""The finalize on real disk images: references to disks rewritten in the restored files, grub
installed again with the restored system's own grub-install, the log and the plan copied in.

The source systems name their disks by device path (/dev/sda1) and by UUID; the restores make
every filesystem with a new UUID (plan --new-uuids), so each reference has to change. What the
restore wrote is read back with independent tools: blkid, the bytes of the target image, mtools.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.system.clitool import cli, cli_backup
from tests.system.grubsystem import KERNEL_VERSION, install_system
from tests.system.images import MiB, attached, blkid_of, mounted

pytestmark = pytest.mark.system

FSTAB_BY_DEVICE = ("# /etc/fstab of a system installed on /dev/sda\n"
                   "/dev/sda{root}\t/\text4\terrors=remount-ro\t0\t1\n"
                   "/dev/sda{swap}  none  swap  sw  0  0\n"
                   "proc /proc proc defaults 0 0\n")


def old_grub_cfg(uuid: str, root: int) -> str:
    return ("# the installed system's grub.cfg\n"
            f"search --no-floppy --fs-uuid --set=root {uuid}\n"
            "menuentry 'Debian' {\n"
            f"\tlinux /boot/vmlinuz-{KERNEL_VERSION} root=/dev/sda{root} ro console=ttyS0\n}}\n")


DEFAULT_GRUB = ('GRUB_DEFAULT=0\nGRUB_TIMEOUT=1\nGRUB_DISTRIBUTOR=debian\n'
                'GRUB_CMDLINE_LINUX_DEFAULT=""\nGRUB_CMDLINE_LINUX="console=ttyS0 '
                'resume=/dev/sda{swap}"\nGRUB_TERMINAL=console\n')


def blank(path: Path, mib: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(mib * MiB)
    return path


def make_grub_disk(path: Path, table: str) -> dict[str, str]:
    """A 400 MiB image with the grub system on ext4 and a swap, its fstab naming both by
    /dev/sda path, grub.cfg by the root's UUID. table: msdos (ext4 1, swap 2) or gpt (BIOS
    boot 1, ext4 2, swap 3). Returns the UUIDs by label; its boot code area is left zero."""
    blank(path, 400)
    if table == "msdos":
        script = "label: dos\nsize=320MiB, type=83\nsize=32MiB, type=82\n"
        numbers = {"root": 1, "swap": 2}
    else:
        script = ("label: gpt\nsize=1MiB, type=21686148-6449-6E6F-744E-656564454649\n"
                  "size=320MiB, type=L\nsize=32MiB, type=S\n")
        numbers = {"root": 2, "swap": 3}
    subprocess.run(["sfdisk", "-q", str(path)], input=script, text=True, check=True)
    with attached(path) as disk:
        subprocess.run(["mkfs.ext4", "-q", "-L", "root", disk.partition(numbers["root"])],
                       check=True)
        subprocess.run(["mkswap", "-L", "swap", disk.partition(numbers["swap"])], check=True,
                       capture_output=True)
        uuids = {label: blkid_of(disk.partition(n))["UUID"] for label, n in numbers.items()}
        with mounted(disk.partition(numbers["root"])) as root:
            install_system(root, FSTAB_BY_DEVICE.format(**numbers),
                           old_grub_cfg(uuids["root"], numbers["root"]),
                           DEFAULT_GRUB.format(**numbers))
    return uuids


def restore_with_new_uuids(source: Path, set_dir: Path, target: Path, tmp_path: Path,
                           *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    saved = tmp_path / "plan.json"
    proc = cli("plan", str(set_dir), "--map", f"{source}={target}", "--new-uuids",
               "--save", str(saved))
    assert proc.returncode == 0, proc.stderr
    restore = cli("restore", "--plan", str(saved), *extra)
    return restore, json.loads(saved.read_text())


def read_restored(target: Path, number: int, *paths: str) -> list[str]:
    with attached(target, read_only=True) as disk, \
            mounted(disk.partition(number), "ext4", "ro,noload") as root:
        return [(root / p.lstrip("/")).read_text() for p in paths]


def boot_code(target: Path) -> bytes:
    with open(target, "rb") as f:
        return f.read(440)


@pytest.mark.parametrize("table", ["msdos", "gpt"])
def test_a_bios_system_restored_with_new_uuids_boots_by_them_with_grub_installed_again(
        tmp_path, table):
    source = tmp_path / "source.img"
    old = make_grub_disk(source, table)
    set_dir = cli_backup(source, tmp_path / "set")
    target = blank(tmp_path / "target.img", 400)
    proc, plan = restore_with_new_uuids(source, set_dir, target, tmp_path)
    assert proc.returncode == 0, proc.stderr
    install = next(s for s in plan["steps"] if s["action"] == "install-boot-loader")
    assert install["detail"]["firmware"] == "bios"
    assert install["detail"]["partition"] == (0 if table == "msdos" else 1)
    root_n, swap_n = (1, 2) if table == "msdos" else (2, 3)
    with attached(target, read_only=True) as disk:
        new = {"root": blkid_of(disk.partition(root_n))["UUID"],
               "swap": blkid_of(disk.partition(swap_n))["UUID"]}
    assert new["root"] != old["root"] and new["swap"] != old["swap"]
    fstab, grub_cfg, default_grub, plan_copy = read_restored(
        target, root_n, "/etc/fstab", "/boot/grub/grub.cfg", "/etc/default/grub",
        "/var/log/restore-console/plan.json")
    assert fstab.splitlines() == [
        "# /etc/fstab of a system installed on /dev/sda",
        f"UUID={new['root']}\t/\text4\terrors=remount-ro\t0\t1",
        f"UUID={new['swap']}  none  swap  sw  0  0",
        "proc /proc proc defaults 0 0"]
    assert f'resume=UUID={new["swap"]}"' in default_grub
    # grub.cfg made again by the restored system's update-grub: the kernel's entry finds the
    # root by its new UUID, nothing names the old one or a device of this machine.
    assert "### BEGIN /etc/grub.d/10_linux ###" in grub_cfg
    assert f"root=UUID={new['root']} ro console=ttyS0 resume=UUID={new['swap']}" in grub_cfg
    assert old["root"] not in grub_cfg and "/dev/loop" not in grub_cfg
    assert json.loads(plan_copy) == plan
    # GRUB's boot code in the first sector (the source had none), its core image after it.
    assert b"GRUB" in boot_code(target) and b"GRUB" not in boot_code(source)
    with open(target, "rb") as f:
        f.seek(MiB if table == "gpt" else 512)
        assert f.read(512).strip(b"\0"), "no core image where grub embeds it"
    assert f"Rewritten: /etc/fstab line 2: /dev/sda{root_n} -> UUID={new['root']}" \
        in proc.stdout
    assert "Boot: grub installed for BIOS on" in proc.stdout
    assert "The log and the plan are in /var/log/restore-console/" in proc.stdout


def make_small_system(path: Path, fstab: str, grub_install: str | None) -> None:
    """An msdos image with one small ext4 root: /etc/fstab as given, /boot/grub, and
    /usr/sbin/grub-install as a link to grub_install (None: no such file)."""
    blank(path, 64)
    subprocess.run(["sfdisk", "-q", str(path)], input="label: dos\nsize=48MiB, type=83\n",
                   text=True, check=True)
    with attached(path) as disk:
        subprocess.run(["mkfs.ext4", "-q", "-L", "root", disk.partition(1)], check=True)
        with mounted(disk.partition(1)) as root:
            for folder in ("etc", "boot/grub", "usr/sbin", "var/log"):
                (root / folder).mkdir(parents=True)
            (root / "etc/fstab").write_text(fstab)
            (root / "boot/grub/grub.cfg").write_text("linux /vmlinuz root=/dev/sda1\n")
            if grub_install:
                os.symlink(grub_install, root / "usr/sbin/grub-install")


def test_grub_install_missing_and_an_fstab_entry_for_another_disk_are_said_and_asked(tmp_path):
    source = tmp_path / "source.img"
    make_small_system(source, "/dev/sda1 / ext4 defaults 0 1\n"
                              "/dev/sdc1 /backup ext4 defaults 0 2\n",
                      grub_install="/usr/lib/grub/grub-install-removed")
    set_dir = cli_backup(source, tmp_path / "set")
    target = blank(tmp_path / "target.img", 64)
    proc, plan = restore_with_new_uuids(source, set_dir, target, tmp_path)
    assert [s["action"] for s in plan["steps"][-3:]] == [
        "rewrite-references", "install-boot-loader", "finalize"]
    # Without a terminal and without --on-failure the first failure stops it, in words.
    assert proc.returncode == 1
    assert ("The restored /etc/fstab needs devices at boot that are not on the restored "
            "disks: /dev/sdc1 for /backup (line 2): not a filesystem of the set") in proc.stderr
    assert "Traceback" not in proc.stderr
    # Asked again, skipping: the rewrite is kept, the next failure is said and skipped too.
    proc = cli("restore", "--plan", str(tmp_path / "plan.json"), "--on-failure", "skip")
    assert proc.returncode == 0, proc.stderr
    said = proc.stdout + proc.stderr
    assert "grub-install is missing in the restored system" in said
    assert "Skipped after it failed: step 10 (Rewrite the references" in proc.stdout
    assert "Skipped after it failed: step 11 (Install grub for BIOS" in proc.stdout
    with attached(target, read_only=True) as disk:
        uuid = blkid_of(disk.partition(1))["UUID"]
    fstab, log_copy = read_restored(target, 1, "/etc/fstab", "/var/log/restore-console/restore.log")
    assert fstab == f"UUID={uuid} / ext4 defaults 0 1\n/dev/sdc1 /backup ext4 defaults 0 2\n"
    assert "grub-install is missing" in log_copy
    assert b"GRUB" not in boot_code(target)


def vfat_mountable() -> bool:
    """This kernel mounts vfat (loading its module if it can)."""
    subprocess.run(["modprobe", "-q", "vfat"], capture_output=True)
    with open("/proc/filesystems") as f:
        return any(line.split()[-1] == "vfat" for line in f if line.strip())


ESP_MIB = 64


@pytest.fixture(scope="module")
def uefi_set(tmp_path_factory):
    """A GPT image with an EFI system partition (vfat, empty: it is saved as an image), the grub
    system on ext4 and a swap, its fstab naming the ESP by UUID, the others by device path."""
    base = tmp_path_factory.mktemp("uefi")
    source = blank(base / "source.img", 400)
    subprocess.run(["sfdisk", "-q", str(source)], text=True, check=True,
                   input=(f"label: gpt\nsize={ESP_MIB}MiB, type=U\nsize=280MiB, type=L\n"
                          "size=32MiB, type=S\n"))
    with attached(source) as disk:
        subprocess.run(["mkfs.vfat", "-I", "-n", "EFI", disk.partition(1)], check=True,
                       capture_output=True)
        subprocess.run(["mkfs.ext4", "-q", "-L", "root", disk.partition(2)], check=True)
        subprocess.run(["mkswap", "-L", "swap", disk.partition(3)], check=True,
                       capture_output=True)
        esp = blkid_of(disk.partition(1))["UUID"]
        root_uuid = blkid_of(disk.partition(2))["UUID"]
        fstab = (FSTAB_BY_DEVICE.format(root=2, swap=3)
                 + f"UUID={esp}  /boot/efi  vfat  umask=0077  0  1\n")
        with mounted(disk.partition(2)) as root:
            install_system(root, fstab, old_grub_cfg(root_uuid, 2), DEFAULT_GRUB.format(swap=3))
            (root / "boot/efi").mkdir()
    return source, cli_backup(source, base / "set")


@pytest.mark.skipif(not vfat_mountable(), reason="this kernel cannot mount vfat, so the EFI "
                    "system partition cannot be mounted for grub-install here: the UEFI "
                    "installation is checked in the virtual machine test bed (issue 16, item 4)")
def test_a_uefi_system_gets_grub_and_its_fallback_loader_on_the_esp(uefi_set, tmp_path):
    source, set_dir = uefi_set
    target = blank(tmp_path / "target.img", 400)
    proc, plan = restore_with_new_uuids(source, set_dir, target, tmp_path)
    assert proc.returncode == 0, proc.stderr
    install = next(s for s in plan["steps"] if s["action"] == "install-boot-loader")
    assert install["detail"] == {"firmware": "efi", "partition": 1, "efi_directory": "/boot/efi"}
    offset = MiB  # the ESP starts at 1 MiB; mtools reads it without the kernel
    listing = subprocess.run(["mdir", "-b", "-/", "-i", f"{target}@@{offset}", "::/EFI"],
                             capture_output=True, text=True, check=True).stdout
    assert "::/EFI/BOOT/BOOTX64.EFI" in listing.upper()
    assert "::/EFI/debian/grubx64.efi".upper() in listing.upper()
    assert "Boot: grub installed for UEFI in EFI/debian and EFI/BOOT/BOOTX64.EFI" in proc.stdout


@pytest.mark.skipif(vfat_mountable(), reason="this kernel mounts vfat: the EFI system "
                    "partition is mounted, and the UEFI installation tested instead")
def test_an_esp_this_kernel_cannot_mount_is_said_and_asked_and_the_data_stays(uefi_set,
                                                                             tmp_path):
    source, set_dir = uefi_set
    target = blank(tmp_path / "target.img", 400)
    proc, plan = restore_with_new_uuids(source, set_dir, target, tmp_path, "--on-failure",
                                        "skip")
    assert proc.returncode == 0, proc.stderr
    number = next(n for n, s in enumerate(plan["steps"], 1)
                  if s["action"] == "install-boot-loader")
    assert ("The EFI system partition (1) cannot be mounted at /boot/efi of the restored "
            "system: Could not mount") in proc.stderr
    assert "unknown filesystem type 'vfat'" in proc.stderr
    assert f"Skipped after it failed: step {number} (Install grub for UEFI" in proc.stdout
    with attached(target, read_only=True) as disk:
        new_root = blkid_of(disk.partition(2))["UUID"]
    fstab, = read_restored(target, 2, "/etc/fstab")
    assert f"UUID={new_root}\t/\text4" in fstab  # the rewrite before it stays


def test_an_initramfs_asked_for_without_the_tools_to_rebuild_it_is_said_and_skipped(tmp_path):
    source = tmp_path / "source.img"
    make_small_system(source, "LABEL=root / ext4 defaults 0 1\n", grub_install=None)
    set_dir = cli_backup(source, tmp_path / "set")
    target = blank(tmp_path / "target.img", 64)
    proc = cli("plan", str(set_dir), "--map", f"{source}={target}", "--rebuild-initramfs",
               "--save", str(tmp_path / "plan.json"))
    assert proc.returncode == 0, proc.stderr
    assert "Rebuild the restored system's initramfs for every kernel" in proc.stdout
    assert ("The set's system has no grub (/boot/grub and grub-install): the boot loader is "
            "not reinstalled.") in proc.stdout
    proc = cli("restore", "--plan", str(tmp_path / "plan.json"), "--on-failure", "skip")
    assert proc.returncode == 0, proc.stderr
    assert ("The restored system has neither update-initramfs nor dracut: its initramfs "
            "cannot be rebuilt.") in proc.stderr
    assert "Skipped after it failed: step 11 (Rebuild the restored system's initramfs" \
        in proc.stdout
    assert "No reference to a disk needed rewriting." in proc.stderr
    # The finalize's own mounts are gone: nothing of the target is attached any more.
    attached_now = subprocess.run(["losetup", "-j", str(target)], capture_output=True,
                                  text=True).stdout
    assert attached_now == ""


class Terminal:
    """The command line on a pseudo-terminal, as an operator at the console runs it: what it
    printed, read until a text shows, and answers typed."""

    def __init__(self, *args: str, env: dict[str, str]):
        import pty
        import sys
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([sys.executable, "-m", "console", "--log",
                                      "/tmp/restore-console-tests.log", *args],
                                     stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True)
        os.close(slave)
        self.text = ""
        self.position = 0

    def read_until(self, expected: str, timeout: float = 120) -> str:
        """The text from the previous read to the end of `expected`."""
        import select
        import time
        deadline = time.monotonic() + timeout
        while (found := self.text.find(expected, self.position)) < 0:
            left = deadline - time.monotonic()
            ready = select.select([self.master], [], [], max(left, 0))[0]
            try:
                chunk = os.read(self.master, 65536) if ready else b""
            except OSError:  # the other side closed
                chunk = b""
            if not chunk:
                raise AssertionError(f"no {expected!r} in:\n{self.text[self.position:]}")
            self.text += chunk.decode(errors="replace").replace("\r\n", "\n")
        before, self.position = self.text[self.position:found], found + len(expected)
        return before + expected

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def close(self) -> int:
        try:
            return self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            os.close(self.master)


def test_on_a_terminal_each_failed_finalize_step_is_said_and_asked_retry_shell_skip_abort(
        tmp_path):
    source = tmp_path / "source.img"
    make_small_system(source, "/dev/sda1 / ext4 defaults 0 1\n"
                              "/dev/sdc1 /backup ext4 defaults 0 2\n",
                      grub_install="/usr/lib/grub/grub-install-removed")
    set_dir = cli_backup(source, tmp_path / "set")
    target = blank(tmp_path / "target.img", 64)
    saved = tmp_path / "plan.json"
    assert cli("plan", str(set_dir), "--map", f"{source}={target}", "--save",
               str(saved)).returncode == 0
    env = {**os.environ, "SHELL": "/bin/sh", "TERM": "dumb"}
    term = Terminal("restore", "--plan", str(saved), env=env)
    try:
        fstab_failed = ("The restored /etc/fstab needs devices at boot that are not on the "
                        "restored disks: /dev/sdc1 for /backup (line 2)")
        said = term.read_until("Retry, skip, shell or abort? [abort] ")
        assert fstab_failed in said and "Traceback" not in said
        term.type("r")  # run again: the same failure, asked again
        said = term.read_until("Retry, skip, shell or abort? [abort] ")
        assert fstab_failed in said
        term.type("sh")  # the expert shell; the question again when it ends
        term.read_until("exit it to answer the question.")
        term.type("echo in-the-shell-$((6 * 7)); exit")
        said = term.read_until("Retry, skip, shell or abort? [abort] ")
        assert "in-the-shell-42" in said and fstab_failed in said
        term.type("sk")
        said = term.read_until("Retry, skip, shell or abort? [abort] ")
        assert "grub-install is missing in the restored system" in said
        assert "Open a shell, install grub in the restored system (mounted under" in said
        term.type("a")
        said = term.read_until("grub-install is missing")  # the abort's own words
        assert term.close() == 1
    finally:
        if term.proc.poll() is None:
            term.close()
    with attached(target, read_only=True) as disk:
        uuid = blkid_of(disk.partition(1))["UUID"]
    fstab, = read_restored(target, 1, "/etc/fstab")
    # The rewrite before the skipped check stays; the restored data is there.
    assert fstab == f"UUID={uuid} / ext4 defaults 0 1\n/dev/sdc1 /backup ext4 defaults 0 2\n"
