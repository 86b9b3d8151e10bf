"""Kernel modules into the image: the drivers and filesystems a restore needs, each with the
modules it depends on (as modprobe resolves them for that kernel), then depmod for the image."""

from __future__ import annotations

import os

from ..system import run
from .image import RescueImage

TOOLS = ("modprobe", "depmod")  # run here, on the build machine

# By what they are for; a name this kernel lacks (built in, or not built) is left out.
MODULES = {
    "disks": ["virtio_pci", "virtio_blk", "virtio_scsi", "ahci", "ata_piix", "ata_generic",
              "pata_acpi", "sd_mod", "nvme", "usb_storage", "uas", "xhci_pci", "ehci_pci",
              "ohci_pci", "uhci_hcd", "megaraid_sas", "mpt3sas", "hpsa", "aacraid", "smartpqi",
              "3w_9xxx", "arcmsr", "mptsas", "mptspi", "vmw_pvscsi", "hv_storvsc",
              "xen_blkfront", "mmc_block", "sdhci_pci"],
    "cd": ["sr_mod", "cdrom", "isofs", "udf"],
    "tape": ["st"],
    "nfs": ["nfs", "nfsv3", "nfsv4", "sunrpc", "lockd"],
    "network": ["af_packet", "virtio_net", "e1000", "e1000e", "igb", "igc", "ixgbe", "i40e",
                "r8169", "tg3", "bnx2", "bnxt_en", "vmxnet3", "8139cp", "8139too", "pcnet32",
                "ne2k_pci", "sky2", "atl1c", "alx", "hv_netvsc", "xen_netfront"],
    # nls_ascii: vfat's default iocharset in Debian's kernel; no EFI system partition mounts
    # without it.
    "filesystems": ["ext4", "xfs", "vfat", "btrfs", "nls_cp437", "nls_iso8859_1", "nls_utf8",
                    "nls_ascii", "squashfs", "overlay", "loop", "crc32c_generic", "crc32c_intel",
                    "efivarfs"],  # the firmware's variables, for efibootmgr under UEFI
    "volumes": ["dm_mod", "dm_crypt", "dm_snapshot", "dm_mirror", "dm_raid", "md_mod", "raid0",
                "raid1", "raid10", "raid456",
                # LUKS's usual ciphers (aes-xts-plain64, aes-cbc-essiv) and key derivation
                "xts", "essiv", "cbc", "aesni_intel", "sha256_generic", "sha512_generic",
                "algif_skcipher", "af_alg"],
    "keyboards": ["usbhid", "hid_generic", "evdev"],
}
# depmod reads these beside the modules.
KERNEL_LISTS = ("modules.order", "modules.builtin", "modules.builtin.modinfo")


def module_files(version: str, names: list[str]) -> list[str]:
    """The .ko files of names and of everything they need, in load order."""
    proc = run(["modprobe", "--show-depends", "-a", "-S", version, *names],
               f"resolve the kernel modules of {version}", check=False)
    files = []
    for line in proc.stdout.decode().splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "insmod":
            files.append(words[1])
    return files


def add_kernel_modules(image: RescueImage) -> int:
    version = image.kernel_version
    names = [name for group in MODULES.values() for name in group]
    files = module_files(version, names)
    added = sum(image.add_file(path, usr_lib(path)) for path in files)
    base = f"/lib/modules/{version}"
    for name in KERNEL_LISTS:
        if os.path.exists(f"{base}/{name}"):
            image.add_file(f"{base}/{name}", usr_lib(f"{base}/{name}"))
    run(["depmod", "-b", image.root, version], "index the modules of the rescue image")
    return added


def usr_lib(path: str) -> str:
    return path if path.startswith("/usr/") else "/usr" + path
