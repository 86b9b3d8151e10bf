"""The firmware paths later boot tests stand on: SeaBIOS and OVMF (UEFI) each boot a CD made
with grub-mkrescue, from the CD alone (no -kernel), to the shell."""

from __future__ import annotations

import pytest

from tests.e2e.bootmedia import make_boot_iso, missing_for_boot_iso
from tests.e2e.conftest import BOOT_TIMEOUT, READY
from tests.e2e.vm import DEFAULT_APPEND, OVMF_CODE, Cdrom

pytestmark = pytest.mark.skipif(bool(missing_for_boot_iso()),
                                reason=f"needs {', '.join(missing_for_boot_iso())}")


@pytest.fixture(scope="module")
def boot_iso(kernel, shell_initrd, tmp_path_factory):
    return make_boot_iso(tmp_path_factory.mktemp("iso") / "boot.iso", kernel=kernel.vmlinuz,
                         initrd=shell_initrd, append=DEFAULT_APPEND)


@pytest.mark.parametrize("firmware", ["bios", "uefi"])
def test_the_firmware_boots_a_grub_cd_to_the_shell(firmware, boot_iso, start_machine):
    if firmware == "uefi" and not OVMF_CODE.exists():
        pytest.skip(f"needs {OVMF_CODE} (Debian package ovmf)")
    vm = start_machine(firmware=firmware, cdroms=[Cdrom(boot_iso, boot=True)])
    vm.console.wait_for(READY, timeout=BOOT_TIMEOUT)
    efi = vm.console.run("test -d /sys/firmware/efi", check=False).status == 0
    assert efi == (firmware == "uefi")
    assert vm.console.run("cat /proc/cmdline").output.startswith("BOOT_IMAGE=/boot/vmlinuz ")
