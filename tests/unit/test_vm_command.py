"""The QEMU command line of the e2e test bed, without starting QEMU: a guest has no network
unless a test gives it one, and then only the forwards named, all on the host's 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.vm import Cdrom, Disk, GuestForward, HostForward, Machine, Network


def _command(**fields) -> list[str]:
    return Machine(workdir=Path("/tmp/vm"), kernel=Path("/boot/vmlinuz"), **fields).command(
        Path("/tmp/sockets"))


def _values(argv: list[str], option: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == option]


def test_without_a_network_the_guest_has_no_network_device_at_all():
    argv = _command(disks=[Disk(Path("/d.img"))])
    assert "-nodefaults" in argv  # QEMU's default NIC is unrestricted user networking
    assert _values(argv, "-netdev") == [] and _values(argv, "-nic") == []
    assert not any("net" in device for device in _values(argv, "-device"))


def test_a_network_is_restricted_to_its_forwards_on_the_hosts_loopback():
    argv = _command(network=Network(guest_forwards=[GuestForward(2049, 40000)],
                                    host_forwards=[HostForward(40001, 22)]))
    [netdev] = _values(argv, "-netdev")
    rules = netdev.split(",")
    assert rules[:3] == ["user", "id=net0", "restrict=on"]
    assert rules[3].startswith("guestfwd=tcp:10.0.2.100:2049-cmd:")
    assert rules[3].endswith(" STDIO TCP:127.0.0.1:40000")
    assert rules[4:] == ["hostfwd=tcp:127.0.0.1:40001-:22"]


def test_each_drive_goes_on_the_bus_asked_for():
    argv = _command(disks=[Disk(Path("/a.img"), serial="S1"),
                           Disk(Path("/b.img"), interface="ahci", snapshot=True),
                           Disk(Path("/c.img"), interface="nvme")],
                    cdroms=[Cdrom(Path("/x.iso")), Cdrom(Path("/y.iso"), interface="virtio-scsi",
                                                         boot=True)])
    assert _values(argv, "-device") == [
        "virtio-scsi-pci,id=scsi0",
        "virtio-blk-pci,drive=drive0,serial=S1",
        "ide-hd,drive=drive1,bus=ide.0",
        "nvme,drive=drive2,serial=drive2",
        "ide-cd,drive=drive3,bus=ide.1",
        "scsi-cd,drive=drive4,bus=scsi0.0,bootindex=0",
    ]
    drives = _values(argv, "-drive")
    assert drives[1] == "if=none,id=drive1,format=raw,file=/b.img,snapshot=on"
    assert drives[3].endswith(",media=cdrom,readonly=on")
