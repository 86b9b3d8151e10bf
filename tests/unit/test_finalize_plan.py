"""The finalize in the plan: which grub installation a restored system gets and why not, new
UUIDs said, the initramfs option; nuke mode's certainty; the small decisions of the finalize
(the EFI directory's name, stale firmware entries, tools found inside the restored root)."""

from __future__ import annotations

import os

from console.core.applying.chroot import resolve_inside, tool_inside
from console.core.applying.finalize import efi_bootloader_id, stale_boot_entries
from console.core.layout import GPT_BIOS_BOOT
from console.core.planning.boot import FinalizeOptions
from console.core.planning.mapping import DiskMapping, suggest_mapping, uncertain
from console.core.planning.plan import build_plan, render
from console.core.planning.steps import (
    Finalize,
    InstallBootLoader,
    MakeFilesystem,
    RebuildInitramfs,
    RewriteReferences,
)
from tests.catalogs import make_set_catalog
from tests.unit.test_plan import GiB, target, two_disk_set

GRUB_TREE = {b"/boot/grub/grub.cfg": ("file", 10), b"/usr/sbin/grub-install": ("file", 10)}


def grub_set(tmp_path, tree=GRUB_TREE, bootloader=None):
    backup_set = two_disk_set()
    backup_set.path = str(tmp_path)
    tmp_path.mkdir(exist_ok=True)
    backup_set.bootloader = bootloader or {"kind": "efi", "disk": "/dev/sda", "partition": 1}
    make_set_catalog(backup_set.catalog_path, {2: (dict(tree), {}), 4: ({}, {})})
    return backup_set


def plan_of(backup_set, options=None):
    return build_plan(backup_set, DiskMapping({"/dev/sda": "/dev/vdb", "/dev/sdb": "/dev/vdc"}),
                      [target("/dev/vdb", 30 * GiB), target("/dev/vdc", 10 * GiB)],
                      options=options)


def test_a_uefi_system_with_grub_gets_grub_installed_into_its_esp_after_the_rewrite(tmp_path):
    plan = plan_of(grub_set(tmp_path))
    kinds = [type(s) for s in plan.steps[-3:]]
    assert kinds == [RewriteReferences, InstallBootLoader, Finalize]
    install = plan.steps[-2]
    assert install == InstallBootLoader("/dev/vdb", firmware="efi", partition=1,
                                        efi_directory="/boot/efi")
    text = render(plan)
    assert "grub is installed again, for UEFI, with the restored system's own grub-install" \
           in text
    assert "the fallback EFI/BOOT/BOOTX64.EFI" in text
    assert "Grub is not reinstalled" not in text


def test_a_set_without_grub_install_is_not_given_a_grub_installation_and_says_why(tmp_path):
    plan = plan_of(grub_set(tmp_path, tree={b"/boot/grub/grub.cfg": ("file", 10)}))
    assert not any(isinstance(s, InstallBootLoader) for s in plan.steps)
    assert plan.boot_loader == ("The set's system has no grub (/boot/grub and grub-install): "
                                "the boot loader is not reinstalled.")
    assert plan.boot_loader in render(plan)


def test_bios_on_gpt_needs_the_bios_boot_partition_and_msdos_installs_after_the_mbr(tmp_path):
    backup_set = grub_set(tmp_path, bootloader={"kind": "grub-bios", "disk": "/dev/sda"})
    plan = plan_of(backup_set)
    assert "A GPT disk booted by BIOS needs a BIOS boot partition" in plan.boot_loader
    backup_set.disks[0].partitions[0].type_uuid = GPT_BIOS_BOOT  # the ESP becomes BIOS boot
    backup_set.filesystems[0].mountpoint = ""
    install = next(s for s in plan_of(backup_set).steps if isinstance(s, InstallBootLoader))
    assert (install.firmware, install.partition) == ("bios", 1)
    assert "its core image in the BIOS boot partition (1)" in install.describe(None)
    backup_set.bootloader = {"kind": "bios-mbr", "disk": "/dev/sdb"}
    backup_set.disks[1].table = "msdos"
    install = next(s for s in plan_of(backup_set).steps if isinstance(s, InstallBootLoader))
    assert (install.target, install.firmware, install.partition) == ("/dev/vdc", "bios", 0)
    assert "its core image in the gap after the MBR" in install.describe(None)


def test_the_boot_disk_left_out_means_no_installation(tmp_path):
    backup_set = grub_set(tmp_path)
    plan = build_plan(backup_set, DiskMapping({"/dev/sda": None, "/dev/sdb": "/dev/vdc"}),
                      [target("/dev/vdc", 10 * GiB)])
    assert plan.steps[-1] == Finalize(log=False)  # no root: nothing to finalize in
    assert "not restored by this plan" in plan.boot_loader


def test_new_uuids_are_planned_said_and_kept_for_the_rewrite(tmp_path):
    plan = plan_of(grub_set(tmp_path), FinalizeOptions(new_uuids=True, rebuild_initramfs=True))
    made = {s.fs: s.uuid for s in plan.steps if isinstance(s, MakeFilesystem)}
    assert set(made) == {2, 3, 4} and not {"u-root", "u-swap", "u-home"} & set(made.values())
    rewrite = next(s for s in plan.steps if isinstance(s, RewriteReferences))
    assert rewrite.uuids == {"u-root": made[2], "u-swap": made[3], "u-home": made[4]}
    assert f"UUID u-root becomes {made[2]}" in render(plan)
    assert isinstance(plan.steps[-2], RebuildInitramfs)
    assert "the initramfs is rebuilt" in render(plan)
    # Without the option the UUIDs are the originals and the initramfs stays.
    plan = plan_of(grub_set(tmp_path / "again"))
    assert {s.uuid for s in plan.steps if isinstance(s, MakeFilesystem)} == {
        "u-root", "u-swap", "u-home"}
    assert "The initramfs is not rebuilt (--rebuild-initramfs" in render(plan)


def test_nuke_mode_is_certain_of_a_same_size_disk_alone_and_not_of_two():
    disks = two_disk_set().disks[1:]  # /dev/sdb, 10 GiB
    one = [target("/dev/vdc", 10 * GiB), target("/dev/vdd", 40 * GiB)]
    assert uncertain(disks, one, suggest_mapping(disks, one)) == []
    two = [target("/dev/vdc", 10 * GiB), target("/dev/vdd", 10 * GiB)]
    words = uncertain(disks, two, suggest_mapping(disks, two))
    assert words == ["/dev/sdb could go onto /dev/vdc, /dev/vdd (each of 10.0 GiB)"]
    larger = [target("/dev/vdc", 20 * GiB), target("/dev/vdd", 40 * GiB)]
    assert uncertain(disks, larger, suggest_mapping(disks, larger)) == [
        "/dev/sdb could go onto /dev/vdc, /dev/vdd (each fits)"]
    assert uncertain(disks, [], suggest_mapping(disks, []))[0].startswith("/dev/sdb has no "
                                                                         "target")
    same_drive = [target("/dev/vdc", 10 * GiB), target("/dev/vdd", 10 * GiB, serial="S")]
    disks[0].serial = "S"
    assert uncertain(disks, same_drive, suggest_mapping(disks, same_drive)) == []


def test_the_efi_directory_is_grub_distributor_or_the_os_id():
    assert efi_bootloader_id('GRUB_DISTRIBUTOR="Ubuntu"\n', None) == "ubuntu"
    assert efi_bootloader_id("GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n",
                             'NAME="Debian GNU/Linux"\nID=debian\n') == "debian"
    assert efi_bootloader_id(None, None) == "debian"


def test_stale_firmware_entries_of_the_same_label_are_found():
    listing = ("BootCurrent: 0001\nTimeout: 0 seconds\nBootOrder: 0003,0001,0000\n"
               "Boot0000* UiApp\tFvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)\n"
               "Boot0001* UEFI QEMU HARDDISK QM00001 \tPciRoot(0x0)/Pci(0x1,0x1)\n"
               "Boot0003* debian\tHD(1,GPT,...)/File(\\EFI\\debian\\shimx64.efi)\n"
               "Boot0004  debian\tHD(1,GPT,...)/File(\\EFI\\debian\\grubx64.efi)\n"
               "Boot0005* debian-old\tHD(1,GPT,...)\n")
    assert stale_boot_entries(listing, "debian") == ["0003", "0004"]


def test_tools_are_found_inside_the_restored_root_through_its_own_links(tmp_path):
    root = tmp_path / "root"
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/lib/grub").mkdir(parents=True)
    tool = root / "usr/lib/grub/grub-install.real"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    os.symlink("/usr/lib/grub/grub-install.real", root / "usr/sbin/grub-install")  # absolute
    os.symlink("usr/sbin", root / "sbin")
    assert resolve_inside(str(root), "/sbin/grub-install") == "/usr/lib/grub/grub-install.real"
    assert tool_inside(str(root), "/sbin/grub-install") == "/sbin/grub-install"
    os.symlink("/usr/lib/grub/gone", root / "usr/sbin/update-grub")  # dangling
    (root / "usr/sbin/grub-mkconfig").write_text("not executable\n")
    assert tool_inside(str(root), "/usr/sbin/update-grub", "/usr/sbin/grub-mkconfig") is None
    os.symlink("loop", root / "loop")
    assert resolve_inside(str(root), "/loop/x") is None
    # A link pointing at this system's /bin/sh is followed inside the root, never outside it.
    os.symlink("/bin/sh", root / "usr/sbin/efibootmgr")
    assert tool_inside(str(root), "/usr/sbin/efibootmgr") is None
