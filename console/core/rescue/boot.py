"""What boots the rescue system besides a kernel and an initrd given by hand: a CD image for BIOS
and UEFI (grub-mkrescue, which drives xorriso), and the files for network boot (iPXE)."""

from __future__ import annotations

import os
import shutil
import tempfile

from ..media.isowriter import rescue_grub_cfg
from ..system import run

TOOLS = ("grub-mkrescue",)  # run here, on the build machine

# The command line the rescue system is booted with unless the operator says otherwise; both
# console devices, the serial one last (it becomes /dev/console, where the stages are shown).
KERNEL_COMMAND_LINE = "console=tty0 console=ttyS0,115200 restore=interactive restore.media=auto"


def write_pxe(directory: str, kernel: str, initrd: str, extra: list[str]) -> list[str]:
    """DIR/pxe/: the kernel, the initrd, an iPXE script loading them, the command line."""
    pxe = os.path.join(directory, "pxe")
    os.makedirs(pxe, exist_ok=True)
    for path in (kernel, initrd):
        shutil.copyfile(path, os.path.join(pxe, os.path.basename(path)))
    command_line = command_line_of(extra)
    with open(os.path.join(pxe, "cmdline"), "w") as f:
        f.write(command_line + "\n")
    with open(os.path.join(pxe, "rescue.ipxe"), "w") as f:
        f.write("#!ipxe\n"
                "# Served beside vmlinuz and initrd.img (TFTP or HTTP, relative to this script).\n"
                f"kernel vmlinuz initrd=initrd.img {command_line}\n"
                "initrd initrd.img\n"
                "boot\n")
    return sorted(os.listdir(pxe))


# iPXE's own loaders (Debian package ipxe): PXE firmware chainloads them, they load the script.
IPXE_DIRECTORY = "/usr/lib/ipxe"
IPXE_LOADERS = {"bios": "undionly.kpxe", "uefi": "ipxe.efi"}


def dnsmasq_config(tftp_root: str, network: str | None) -> str:
    """dnsmasq as proxy DHCP and TFTP beside the site's DHCP server, which goes on giving the
    addresses: PXE firmware gets iPXE (BIOS or UEFI), iPXE (its user class) gets rescue.ipxe,
    and everything is read from tftp_root."""
    if network:
        scope = f"dhcp-range={network},proxy\n"
    else:
        scope = ("# Name the network the machines boot on (its address, e.g. 192.168.1.0), or\n"
                 "# give it to mkrescue with --pxe-network; without it dnsmasq answers nobody.\n"
                 "#dhcp-range=192.168.1.0,proxy\n")
    return (
        "# restore-console mkrescue --pxe: network boot of the rescue system.\n"
        "# dnsmasq answers as proxy DHCP only (the site's DHCP server keeps giving the\n"
        "# addresses) and serves this directory over TFTP. As root:\n"
        f"#   dnsmasq --no-daemon --conf-file={os.path.join(tftp_root, 'dnsmasq.conf')}\n"
        "port=0\n"
        "log-dhcp\n"
        "enable-tftp\n"
        f"tftp-root={tftp_root}\n"
        + scope +
        "dhcp-userclass=set:ipxe,iPXE\n"
        "pxe-prompt=\"restore-console\",0\n"
        f"pxe-service=tag:!ipxe,x86PC,\"restore-console: iPXE\",{IPXE_LOADERS['bios']}\n"
        f"pxe-service=tag:!ipxe,X86-64_EFI,\"restore-console: iPXE\",{IPXE_LOADERS['uefi']}\n"
        f"pxe-service=tag:!ipxe,BC_EFI,\"restore-console: iPXE\",{IPXE_LOADERS['uefi']}\n"
        "pxe-service=tag:ipxe,x86PC,\"restore-console\",rescue.ipxe\n"
        "pxe-service=tag:ipxe,X86-64_EFI,\"restore-console\",rescue.ipxe\n"
        "pxe-service=tag:ipxe,BC_EFI,\"restore-console\",rescue.ipxe\n")


def write_dnsmasq(directory: str, network: str | None) -> list[str]:
    """DIR/pxe/dnsmasq.conf and iPXE's loaders beside it (when the ipxe package is installed:
    the names missing are returned)."""
    pxe = os.path.abspath(os.path.join(directory, "pxe"))
    os.makedirs(pxe, exist_ok=True)
    missing = []
    for name in IPXE_LOADERS.values():
        source = os.path.join(IPXE_DIRECTORY, name)
        if os.path.isfile(source):
            shutil.copyfile(source, os.path.join(pxe, name))
        else:
            missing.append(source)
    with open(os.path.join(pxe, "dnsmasq.conf"), "w") as f:
        f.write(dnsmasq_config(pxe, network))
    return missing


def write_iso(directory: str, kernel: str, initrd: str, extra: list[str],
              tools_image: str | None) -> str:
    """DIR/rescue.iso, bootable from BIOS and UEFI, with the tools image beside the kernel."""
    iso = os.path.join(directory, "rescue.iso")
    with tempfile.TemporaryDirectory(prefix="rescue-iso-") as tree:
        boot = os.path.join(tree, "boot")
        os.makedirs(os.path.join(boot, "grub"))
        shutil.copyfile(kernel, os.path.join(boot, "vmlinuz"))
        shutil.copyfile(initrd, os.path.join(boot, "initrd.img"))
        if tools_image:
            shutil.copyfile(tools_image, os.path.join(tree, os.path.basename(tools_image)))
        command_line = command_line_of(extra)
        with open(os.path.join(boot, "grub", "grub.cfg"), "w") as f:
            f.write(rescue_grub_cfg(command_line, command_line_of([*extra, "restore=expert"])))
        run(["grub-mkrescue", "-o", iso, tree, "--", "-volid", "RESTORE_RESCUE"],
            "make the rescue CD image")
    return iso


def command_line_of(extra: list[str]) -> str:
    """The default command line, each option of extra replacing the default of the same name."""
    words = {}
    for word in [*KERNEL_COMMAND_LINE.split(), *extra]:
        key = word.split("=", 1)[0]
        words[key if key != "console" else word] = word  # console= can be given more than once
    return " ".join(words.values())
