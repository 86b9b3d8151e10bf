"""The rewriting of the restored system's references to its disks: fstab, crypttab, grub's
configuration and kernel command lines, as pure functions on texts."""

from __future__ import annotations

import pytest

from console.core.applying.references import (
    CRYPTTAB,
    FSTAB,
    Known,
    References,
    device_aliases,
    missing_entries,
    rewrite_kernel_arguments,
    rewrite_table,
)
from console.core.disks.fstab import disk_of_partition_path, partition_path

OLD_ROOT = "0d9f3a1e-7c53-4b9e-a1c8-6f0b2d3e4a51"
NEW_ROOT = "5b7c2e44-1a2b-4c3d-9e8f-0123456789ab"
SWAP = "c0ffee00-1111-4222-8333-444455556666"
HOME = "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9"

REFS = References(devices={"/dev/sda2": NEW_ROOT, "/dev/sda3": SWAP, "/dev/vda1": HOME},
                  uuids={OLD_ROOT: NEW_ROOT})


def test_a_device_path_becomes_uuid_and_the_rest_of_the_line_stays_byte_for_byte():
    text = "/dev/sda2\t/\text4\terrors=remount-ro 0\t1\n"
    new, changes = rewrite_table(text, FSTAB, REFS)
    assert new == f"UUID={NEW_ROOT}\t/\text4\terrors=remount-ro 0\t1\n"
    assert [(c.line, c.before, c.after) for c in changes] == [(1, "/dev/sda2",
                                                               f"UUID={NEW_ROOT}")]
    assert changes[0].words == f"/etc/fstab line 1: /dev/sda2 -> UUID={NEW_ROOT}"


def test_a_changed_uuid_is_replaced_in_every_spelling_it_has():
    text = (f"UUID={OLD_ROOT} / ext4 defaults 0 1\n"
            f'UUID="{OLD_ROOT.upper()}" /alt ext4 defaults 0 2\n'
            f"/dev/disk/by-uuid/{OLD_ROOT} /again ext4 defaults 0 2\n")
    new, changes = rewrite_table(text, FSTAB, REFS)
    assert new.splitlines() == [f"UUID={NEW_ROOT} / ext4 defaults 0 1",
                                f'UUID="{NEW_ROOT}" /alt ext4 defaults 0 2',
                                f"/dev/disk/by-uuid/{NEW_ROOT} /again ext4 defaults 0 2"]
    assert len(changes) == 3


def test_comments_labels_partuuids_bind_mounts_and_pseudo_filesystems_are_left_alone():
    text = ("# /dev/sda2 was the root when this was installed\n"
            "   # indented comment naming /dev/sda3\n"
            "\n"
            "LABEL=data  /srv/data  xfs  defaults  0  2\n"
            "PARTUUID=0a1b2c3d-02  /boot/efi  vfat  umask=0077  0  1\n"
            "PARTLABEL=scratch /scratch ext4 nofail 0 2\n"
            "/dev/sda2  /mnt/again  none  bind  0  0\n"
            "/srv/data/www  /var/www  none  rbind,ro  0  0\n"
            "proc  /proc  proc  defaults  0  0\n"
            "tmpfs  /tmp  tmpfs  mode=1777  0  0\n"
            "server:/export  /net  nfs  defaults  0  0\n")
    new, changes = rewrite_table(text, FSTAB, REFS)
    assert new == text and changes == []


def test_swap_and_nofail_entries_are_rewritten_too_keeping_their_options():
    text = ("/dev/sda3 none swap sw 0 0\n"
            "/dev/vda1 /home ext4 defaults,nofail 0 2\n"
            "/dev/sdc1 /backup ext4 defaults 0 2\n")
    new, changes = rewrite_table(text, FSTAB, REFS)
    assert new.splitlines() == [f"UUID={SWAP} none swap sw 0 0",
                                f"UUID={HOME} /home ext4 defaults,nofail 0 2",
                                "/dev/sdc1 /backup ext4 defaults 0 2"]  # not a disk of the set
    assert [c.line for c in changes] == [1, 2]


def test_crlf_line_ends_and_a_last_line_without_one_are_kept():
    new, _ = rewrite_table("/dev/sda2 / ext4 defaults 0 1\r\n/dev/sda3 none swap sw", FSTAB, REFS)
    assert new == f"UUID={NEW_ROOT} / ext4 defaults 0 1\r\nUUID={SWAP} none swap sw"


def test_crypttab_rewrites_its_second_field_only():
    text = ("# <target> <source> <key> <options>\n"
            "cryptroot /dev/sda2 none luks,discard\n"
            f"cryptdata UUID={OLD_ROOT} /etc/keys/data luks\n"
            "cryptswap /dev/sda3 /dev/urandom swap,cipher=aes-xts-plain64\n")
    new, changes = rewrite_table(text, CRYPTTAB, REFS)
    assert new.splitlines()[1:] == [f"cryptroot UUID={NEW_ROOT} none luks,discard",
                                    f"cryptdata UUID={NEW_ROOT} /etc/keys/data luks",
                                    f"cryptswap UUID={SWAP} /dev/urandom swap,cipher=aes-xts-"
                                    "plain64"]
    assert {c.file for c in changes} == {"/etc/crypttab"}


def test_grub_cfg_gets_root_by_uuid_and_the_new_uuid_in_its_searches():
    text = ("\tsearch --no-floppy --fs-uuid --set=root "
            f"--hint-bios=hd0,msdos2 {OLD_ROOT}\n"
            "\tlinux\t/boot/vmlinuz-6.1.0-13-amd64 root=/dev/sda2 ro quiet resume=/dev/sda3\n"
            f"\tlinux /vmlinuz root=UUID={OLD_ROOT} ro\n"
            "\tlinux /vmlinuz root=/dev/sda20 ro\n")
    new, changes = rewrite_kernel_arguments(text, "/boot/grub/grub.cfg", REFS)
    assert new.splitlines() == [
        f"\tsearch --no-floppy --fs-uuid --set=root --hint-bios=hd0,msdos2 {NEW_ROOT}",
        f"\tlinux\t/boot/vmlinuz-6.1.0-13-amd64 root=UUID={NEW_ROOT} ro quiet "
        f"resume=UUID={SWAP}",
        f"\tlinux /vmlinuz root=UUID={NEW_ROOT} ro",
        "\tlinux /vmlinuz root=/dev/sda20 ro"]  # a partition the set does not know
    assert [(c.line, c.before) for c in changes] == [
        (1, OLD_ROOT), (2, "root=/dev/sda2"), (2, "resume=/dev/sda3"), (3, OLD_ROOT)]


def test_etc_default_grub_and_the_resume_setting_are_rewritten_inside_their_quotes():
    text = ('GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
            'GRUB_CMDLINE_LINUX="root=/dev/sda2 console=ttyS0"\n')
    new, _ = rewrite_kernel_arguments(text, "/etc/default/grub", REFS)
    assert new.splitlines()[1] == f'GRUB_CMDLINE_LINUX="root=UUID={NEW_ROOT} console=ttyS0"'
    new, _ = rewrite_kernel_arguments("RESUME=/dev/sda3\n", "/etc/initramfs-tools/conf.d/resume",
                                      REFS)
    assert new == f"RESUME=UUID={SWAP}\n"


def test_a_uuid_inside_a_longer_token_is_not_touched():
    longer = OLD_ROOT + "-snapshot"
    new, changes = rewrite_kernel_arguments(f"set x={longer}\n", "/boot/grub/grub.cfg", REFS)
    assert new == f"set x={longer}\n" and changes == []


def test_rewriting_twice_changes_nothing_the_second_time():
    text = "/dev/sda2 / ext4 defaults 0 1\n"
    once, _ = rewrite_table(text, FSTAB, REFS)
    twice, changes = rewrite_table(once, FSTAB, REFS)
    assert twice == once and changes == []


@pytest.mark.parametrize(("path", "number", "disk"), [
    ("/dev/sda2", 2, "/dev/sda"), ("/dev/vda1", 1, "/dev/vda"), ("/dev/xvdb3", 3, "/dev/xvdb"),
    ("/dev/nvme0n1p2", 2, "/dev/nvme0n1"), ("/dev/mmcblk0p1", 1, "/dev/mmcblk0"),
    ("/dev/sda12", 2, None), ("/dev/sda2", 3, None), ("/dev/md2", 2, None),
    ("/dev/disk/by-id/ata-X-part2", 2, None), ("UUID=x", 2, None)])
def test_the_disk_of_a_partition_path(path, number, disk):
    assert disk_of_partition_path(path, number) == disk
    if disk:
        assert partition_path(disk, number) == path


def test_a_root_named_by_device_path_names_its_disk_s_other_partitions():
    fstab = "/dev/vda2 / ext4 defaults 0 1\n/dev/vda3 none swap sw 0 0\n"
    assert device_aliases(fstab, 2, {2: NEW_ROOT, 3: SWAP}) == {"/dev/vda2": NEW_ROOT,
                                                                "/dev/vda3": SWAP}
    assert device_aliases(f"UUID={OLD_ROOT} / ext4 defaults 0 1\n", 2, {2: NEW_ROOT}) == {}
    assert device_aliases("/dev/vda3 / ext4 defaults 0 1\n", 2, {2: NEW_ROOT}) == {}


def test_entries_for_devices_that_are_not_restored_are_found_unless_not_needed():
    known = Known(uuids={NEW_ROOT}, labels={"data"}, partuuids={"0a1b2c3d-02"})
    fstab = (f"UUID={NEW_ROOT} / ext4 defaults 0 1\n"
             "LABEL=data /srv/data xfs defaults 0 2\n"
             "PARTUUID=0A1B2C3D-02 /boot/efi vfat umask=0077 0 1\n"
             "UUID=99999999-0000-4000-8000-000000000000 /archive ext4 defaults 0 2\n"
             "/dev/sdc1 /backup ext4 defaults 0 2\n"
             "/dev/sdd1 /usb ext4 defaults,nofail 0 2\n"
             "LABEL=gone /gone ext4 noauto 0 0\n"
             "proc /proc proc defaults 0 0\n"
             "server:/export /net nfs defaults 0 0\n")
    missing = missing_entries(fstab, known)
    assert [(e.line, e.spec, e.mountpoint) for e in missing] == [
        (4, "UUID=99999999-0000-4000-8000-000000000000", "/archive"),
        (5, "/dev/sdc1", "/backup")]
