"""Making the restored system boot on its new disks, after the restore and its verify.

The references to disks in its files are rewritten where they changed (references.py), grub
is installed again with its own grub-install through chroot (chroot.py), its initramfs is
rebuilt when asked, and the log and the plan are copied into it. Each is a step of the plan;
a failure raises RestoreError in words, and the applier asks what to do (the restored data
stays as it is).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

from ..disks.blockdev import mounted
from ..errors import RestoreError
from ..events import Listener, Message
from ..system import run
from ..layout import Disk, Filesystem
from ..planning.steps import InstallBootLoader
from .chroot import run_inside, tool_inside
from .ondisk import RESTORE_LOG_DIR
from .references import (
    CRYPTTAB,
    FSTAB,
    KERNEL_ARGUMENT_FILES,
    Change,
    Known,
    References,
    device_aliases,
    fstab_entries,
    missing_entries,
    rewrite_kernel_arguments,
    rewrite_table,
    spec_parts,
)

log = logging.getLogger("restore_console")

GRUB_INSTALL = ("/usr/sbin/grub-install", "/sbin/grub-install")
GRUB_DIRECTORY = "/boot/grub"  # what grub-install and update-grub write in the restored system
GRUB_MODULES = {"bios": "/usr/lib/grub/i386-pc", "efi": "/usr/lib/grub/x86_64-efi"}
GRUB_PACKAGES = {"bios": "grub-pc-bin", "efi": "grub-efi-amd64-bin"}
EFI_FIRMWARE = "/sys/firmware/efi"  # present when this system was started by UEFI
EFI_VARIABLES = "/sys/firmware/efi/efivars"
# Run here: the firmware's boot entry, and its variables mounted for it.
TOOLS = ("efibootmgr", "mount")


@dataclass(frozen=True)
class RestoredFilesystem:
    """A filesystem of the set as the restore left it: its partition now, and its identity
    as blkid reads it there."""

    fs: Filesystem
    device: str
    uuid: str
    label: str


def references_for(restored: list[RestoredFilesystem], fstab: str) -> References:
    """What the references become: every device path the restored system may use for a
    restored filesystem -> its UUID now, and the UUIDs that changed."""
    refs = References()
    for item in restored:
        old, new = item.fs.uuid, item.uuid
        if old and new and old.lower() != new.lower():
            refs.uuids[old.lower()] = new
        # An LV keeps its name (/dev/mapper/vg0-root): the path stays right, and Debian's
        # initramfs activates the root's group by that name, not by a UUID.
        if new and item.fs.device.startswith("/dev/") and not item.fs.on:
            refs.devices[item.fs.device] = new
    root = next((r for r in restored if r.fs.place == "/" and not r.fs.on), None)
    if root is not None:
        same_disk = {r.fs.partition: r.uuid for r in restored
                     if r.fs.disk == root.fs.disk and r.uuid}
        for path, uuid in device_aliases(fstab, root.fs.partition, same_disk).items():
            refs.devices.setdefault(path, uuid)
    # An entry with the mount point the set recorded names that filesystem, whatever its path.
    by_mountpoint = {r.fs.place: r for r in restored
                     if r.fs.place.startswith("/") and not r.fs.on}
    for entry in fstab_entries(fstab):
        found = by_mountpoint.get(entry.mountpoint)
        if found is not None and found.uuid and spec_parts(entry.spec)[0] == "DEVICE":
            refs.devices.setdefault(entry.spec, found.uuid)
    return refs


def known_for(restored: list[RestoredFilesystem], layouts: list[Disk]) -> Known:
    """What the restored disks hold: the UUIDs and labels of their filesystems, the UUIDs and
    names of their partitions."""
    parts = [p for disk in layouts for p in disk.partitions]
    # A filesystem in a layer keeps its device's name: /dev/mapper/vg0-root (or /dev/vg0/root),
    # /dev/mapper/NAME of a LUKS container, /dev/md0.
    devices = {r.fs.device for r in restored if r.fs.on}
    devices |= {"/dev/" + r.fs.on[3:] for r in restored if r.fs.on.startswith("lv:")}
    return Known(uuids={r.uuid.lower() for r in restored if r.uuid},
                 labels={r.label for r in restored if r.label},
                 partuuids={p.partuuid.lower() for p in parts if p.partuuid},
                 partlabels={p.name for p in parts if p.name}, devices=devices)


def read_restored(root: str, path: str) -> str | None:
    full = os.path.join(root, path.lstrip("/"))
    if os.path.islink(full) or not os.path.isfile(full):
        return None  # a link could lead out of the restored system: left alone
    with open(full, encoding="utf-8", errors="surrogateescape") as f:
        return f.read()


def _write(root: str, path: str, text: str) -> None:
    """Replaces the file at once (a new file renamed over it), with its owner and mode; its
    directory keeps the time the archive gave it (a later verify compares it)."""
    full = os.path.join(root, path.lstrip("/"))
    st = os.stat(full)
    folder = os.stat(os.path.dirname(full))
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(full), prefix=".restore-console-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chown(temporary, st.st_uid, st.st_gid)
        os.chmod(temporary, st.st_mode & 0o7777)
        os.rename(temporary, full)
        os.utime(os.path.dirname(full), ns=(folder.st_atime_ns, folder.st_mtime_ns))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def rewrite_references(root: str, refs: References, listener: Listener,
                       files: tuple[str, ...] = (FSTAB, CRYPTTAB, *KERNEL_ARGUMENT_FILES)
                       ) -> list[Change]:
    """Rewrites fstab, crypttab, grub's configuration and the kernel command line (or the
    files given) in the restored system; every change is logged and said."""
    changes: list[Change] = []
    for path in files:
        text = read_restored(root, path)
        if text is None:
            continue
        if path in (FSTAB, CRYPTTAB):
            new, found = rewrite_table(text, path, refs)
        else:
            new, found = rewrite_kernel_arguments(text, path, refs)
        if found:
            _write(root, path, new)
            changes += found
    for change in changes:
        log.info("rewritten: %s", change.words)
        listener(Message(f"Rewritten: {change.words}"))
    if not changes and len(files) > 1:
        listener(Message("No reference to a disk needed rewriting."))
    return changes


def check_fstab(root: str, known: Known, left_out: list[Filesystem]) -> None:
    """Fails, naming them, when the restored fstab needs at boot a device that none of the
    restored filesystems is."""
    text = read_restored(root, FSTAB)
    if text is None:
        return
    missing = missing_entries(text, known)
    if not missing:
        return
    not_restored = {fs.place for fs in left_out}
    said = "; ".join(
        f"{e.spec} for {e.mountpoint} (line {e.line}): "
        + ("its disk is left out of this restore" if e.mountpoint in not_restored
           else "not a filesystem of the set") for e in missing)
    raise RestoreError(
        f"The restored /etc/fstab needs devices at boot that are not on the restored disks: "
        f"{said}. The restored system would wait for them when it starts.",
        "Skip to keep the fstab as it is (the rewritten references stay), or open a shell, "
        "add nofail to those lines or remove them, and retry.")


def efi_bootloader_id(default_grub: str | None, os_release: str | None) -> str:
    """The directory grub-install puts itself in on the ESP (EFI/debian): GRUB_DISTRIBUTOR when
    it is a plain name, else the system's ID from os-release, else debian."""
    for text, key in ((default_grub, "GRUB_DISTRIBUTOR"), (os_release, "ID")):
        match = re.search(rf"^{key}=[\"']?([A-Za-z0-9._-]+)[\"']?\s*$", text or "", re.M)
        if match:
            return match[1].lower()
    return "debian"


def stale_boot_entries(efibootmgr: str, label: str) -> list[str]:
    """The numbers (0003) of the firmware's boot entries that carry label, from efibootmgr's
    listing: a new entry replaces them instead of adding another."""
    found = []
    for line in efibootmgr.splitlines():
        match = re.match(r"Boot([0-9A-Fa-f]{4})\*?\s+(.*?)(\t|\s{2,}|$)", line)
        if match and match[2].strip() == label:
            found.append(match[1])
    return found


def install_grub(root: str, step: InstallBootLoader, disk_device: str, esp_device: str | None,
                 here: dict[str, str], listener: Listener) -> tuple[list[str], list[Change]]:
    """Installs grub in the restored system with its own grub-install, then makes its
    configuration again; returns what was done, in words, and the references rewritten in
    the new configuration. root has /dev, /proc, /sys and /run mounted (chroot.system_mounts).
    `here`: the device path of each restored filesystem on this system -> its UUID: names the
    new configuration may have taken from this system, which the restored one will not have."""
    grub_install = tool_inside(root, *GRUB_INSTALL)
    if grub_install is None:
        raise RestoreError(
            "grub-install is missing in the restored system (no executable /usr/sbin/"
            "grub-install): grub cannot be installed again, and the disk may not boot.",
            "Open a shell, install grub in the restored system (mounted under "
            f"{root}) and retry, or skip: the boot areas stay as the set had them.")
    modules = GRUB_MODULES[step.firmware]
    if not os.path.isdir(os.path.join(root, modules.lstrip("/"))):
        raise RestoreError(
            f"The restored system lacks grub's modules for {step.firmware.upper()} ({modules}, "
            f"package {GRUB_PACKAGES[step.firmware]}): grub cannot be installed for it.",
            "Open a shell, install that package in the restored system and retry, or skip.")
    done: list[str] = []
    _install(root, step, grub_install, disk_device, esp_device, listener, done)
    # Without udev's /dev/disk/by-uuid, grub-mkconfig names the root by the device it is here.
    return done, rewrite_references(root, References(devices=dict(here)), listener,
                                    files=("/boot/grub/grub.cfg",))


def _install(root: str, step: InstallBootLoader, grub_install: str, disk_device: str,
             esp_device: str | None, listener: Listener, done: list[str]) -> None:
    if step.firmware == "efi":
        done += _install_efi(root, step, grub_install, disk_device, esp_device, listener)
    else:
        listener(Message(f"Installing grub for BIOS on {disk_device}"))
        run_inside(root, [grub_install, "--target=i386-pc", disk_device],
                   f"install grub for BIOS on {disk_device}")
        done.append(f"grub installed for BIOS on {step.target}")
    update = tool_inside(root, "/usr/sbin/update-grub")
    listener(Message("Making grub's configuration again"))
    if update:
        run_inside(root, [update], "make grub's configuration again (update-grub)")
    else:
        mkconfig = tool_inside(root, "/usr/sbin/grub-mkconfig", "/usr/sbin/grub2-mkconfig")
        if mkconfig is None:
            raise RestoreError("The restored system has neither update-grub nor grub-mkconfig: "
                               "grub's configuration cannot be made again.",
                               "Skip to keep the restored /boot/grub/grub.cfg (its references "
                               "were rewritten), or install grub in a shell and retry.")
        run_inside(root, [mkconfig, "-o", "/boot/grub/grub.cfg"],
                   "make grub's configuration again (grub-mkconfig)")
    done.append("grub's configuration made again")


def _install_efi(root: str, step: InstallBootLoader, grub_install: str, disk_device: str,
                 esp_device: str | None, listener: Listener) -> list[str]:
    if esp_device is None:
        raise RestoreError(f"The EFI system partition ({step.partition}) is not on the restored "
                           "disks.", "Skip, or make the plan again with its disk.")
    where = os.path.join(root, step.efi_directory.lstrip("/"))
    os.makedirs(where, exist_ok=True)
    ident = efi_bootloader_id(read_restored(root, "/etc/default/grub"),
                              read_restored(root, "/etc/os-release"))
    done = []
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(mounted(esp_device, "vfat", where=where))
        except RestoreError as exc:
            raise RestoreError(
                f"The EFI system partition ({step.partition}) cannot be mounted at "
                f"{step.efi_directory} of the restored system: {exc.message}",
                "Where the kernel lacks vfat, load it (modprobe vfat) and retry; or skip: the "
                "partition stays as the set had it.") from None
        efi = ["--target=x86_64-efi", f"--efi-directory={step.efi_directory}", "--no-nvram"]
        listener(Message(f"Installing grub for UEFI into EFI/{ident} and EFI/BOOT"))
        run_inside(root, [grub_install, *efi, f"--bootloader-id={ident}"],
                   f"install grub for UEFI into EFI/{ident}")
        run_inside(root, [grub_install, *efi, "--removable"],
                   "install grub's fallback EFI/BOOT/BOOTX64.EFI")
        done.append(f"grub installed for UEFI in EFI/{ident} and EFI/BOOT/BOOTX64.EFI")
        if os.path.isdir(EFI_FIRMWARE):
            done.append(_boot_entry(root, step, ident, disk_device, where, listener))
        else:
            done.append("no firmware boot entry set: this console was not started by UEFI "
                        "(the firmware finds EFI/BOOT/BOOTX64.EFI)")
    return done


def efi_variables_mounted(listener: Listener) -> None:
    """efivarfs on /sys/firmware/efi/efivars, where efibootmgr reads and writes the firmware's
    variables: a system without an init system of its own (the rescue system) has not
    mounted it."""
    if os.path.ismount(EFI_VARIABLES) or not os.path.isdir(EFI_VARIABLES):
        return
    run(["mount", "-t", "efivarfs", "efivarfs", EFI_VARIABLES],
        "mount the firmware's variables (efivarfs)")
    listener(Message(f"Mounted the firmware's variables on {EFI_VARIABLES}"))


def _boot_entry(root: str, step: InstallBootLoader, ident: str, disk_device: str,
                esp_root: str, listener: Listener) -> str:
    """The firmware's boot entry for the new grub, replacing the entries of the same label.
    The entry is the firmware's, not the restored system's: this system's efibootmgr sets it
    (the rescue system carries it); the restored one's only where this system lacks one."""
    efi_variables_mounted(listener)
    if shutil.which("efibootmgr"):
        def efibootmgr(argv: list[str], what: str) -> str:
            return run(["efibootmgr", *argv], what).stdout.decode(errors="replace")
    else:
        inside = tool_inside(root, "/usr/bin/efibootmgr", "/bin/efibootmgr",
                             "/usr/sbin/efibootmgr")
        if inside is None:
            raise RestoreError("efibootmgr is missing, here and in the restored system: the "
                               "firmware's boot entry cannot be set.",
                               "Skip: the firmware still finds the fallback EFI/BOOT/"
                               "BOOTX64.EFI; or install efibootmgr in a shell and retry.")

        def efibootmgr(argv: list[str], what: str) -> str:
            return run_inside(root, [inside, *argv], what)
    listing = efibootmgr([], "list the firmware's boot entries")
    for number in stale_boot_entries(listing, ident):
        efibootmgr(["-q", "-b", number, "-B"], f"remove the stale boot entry {number} ({ident})")
        listener(Message(f"Removed the firmware's stale boot entry Boot{number} ({ident})"))
    loader = "shimx64.efi" if os.path.exists(os.path.join(esp_root, "EFI", ident,
                                                           "shimx64.efi")) else "grubx64.efi"
    efibootmgr(["-q", "-c", "-d", disk_device, "-p", str(step.partition), "-L", ident,
                "-l", f"\\EFI\\{ident}\\{loader}"], f"add the firmware's boot entry {ident}")
    listener(Message(f"Added the firmware's boot entry {ident} (\\EFI\\{ident}\\{loader})"))
    return f"firmware boot entry {ident} set to \\EFI\\{ident}\\{loader}"


def rebuild_initramfs(root: str, listener: Listener) -> str:
    """Rebuilds every initramfs of the restored system with its own tool."""
    update = tool_inside(root, "/usr/sbin/update-initramfs", "/sbin/update-initramfs")
    if update:
        listener(Message("Rebuilding the initramfs (update-initramfs -u -k all)"))
        run_inside(root, [update, "-u", "-k", "all"], "rebuild the initramfs")
        return "initramfs rebuilt with update-initramfs"
    dracut = tool_inside(root, "/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut")
    if dracut:
        listener(Message("Rebuilding the initramfs (dracut --regenerate-all)"))
        run_inside(root, [dracut, "--regenerate-all", "--force"], "rebuild the initramfs")
        return "initramfs rebuilt with dracut"
    raise RestoreError("The restored system has neither update-initramfs nor dracut: its "
                       "initramfs cannot be rebuilt.",
                       "Skip: the restored initramfs stays as it was.")


def initramfs_files(root: str) -> list[str]:
    """The initramfs images in the restored /boot (update-initramfs: initrd.img-VERSION,
    dracut: initramfs-VERSION.img), as the restored system names them."""
    try:
        names = os.listdir(os.path.join(root, "boot"))
    except OSError:
        return []
    return sorted(f"/boot/{name}" for name in names
                  if name.startswith(("initrd.img-", "initramfs-")))


def copy_log_and_plan(root: str, plan: dict[str, Any]) -> str | None:
    """The log so far and the plan, into /var/log/restore-console/ of the restored system,
    where the admin looks after booting; the directory's path, None without a /var/log."""
    var_log = os.path.join(root, "var/log")
    if not os.path.isdir(var_log) or os.path.islink(var_log):
        return None
    before = os.stat(var_log)
    dest = os.path.join(root, RESTORE_LOG_DIR.lstrip("/"))
    os.makedirs(dest, mode=0o750, exist_ok=True)
    for handler in logging.getLogger("restore_console").handlers:
        path = getattr(handler, "baseFilename", None)
        if path and os.path.exists(path):
            handler.flush()
            shutil.copy(path, os.path.join(dest, "restore.log"))
            break
    with open(os.path.join(dest, "plan.json"), "w") as f:
        json.dump(plan, f, indent=1)
    # Keep /var/log as the archive made it: a later verify compares its mtime.
    os.utime(var_log, ns=(before.st_atime_ns, before.st_mtime_ns))
    return RESTORE_LOG_DIR


def changed_by_finalize(path: str, changed: list[str]) -> bool:
    """path (of the restored system) is one the finalize changed, or below one: it differs
    from the set on purpose."""
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in changed)
