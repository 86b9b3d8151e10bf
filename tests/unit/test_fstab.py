"""Reading mount points out of the source's fstab."""

from console.core.disks.fstab import matches, parse_fstab

FSTAB = """
# /etc/fstab: static file system information.
UUID=3f1c2a9e-0000-4000-8000-00000000000a /               ext4    errors=remount-ro 0 1
LABEL=data      /srv/my\\040data  xfs     defaults  0 2
PARTUUID=0a1b2c3d-02 /boot/efi  vfat    umask=0077 0 1
/dev/sda4       none            swap    sw        0 0
tmpfs           /tmp            tmpfs   defaults  0 0
"""


def ids(**kw):
    base = dict(uuid="", label="", partuuid="", partlabel="", device="")
    return base | kw


def test_parse_skips_comments_and_unescapes():
    entries = parse_fstab(FSTAB)
    assert [e.mountpoint for e in entries] == ["/", "/srv/my data", "/boot/efi", "none", "/tmp"]
    assert entries[1].fstype == "xfs"


def test_matching_by_each_kind_of_spec():
    root, data, efi, swap, _ = parse_fstab(FSTAB)
    assert matches(root.spec, **ids(uuid="3F1C2A9E-0000-4000-8000-00000000000A"))
    assert not matches(root.spec, **ids(uuid="3f1c2a9e-0000-4000-8000-00000000000b"))
    assert matches(data.spec, **ids(label="data"))
    assert not matches(data.spec, **ids(label="Data"))  # labels are exact
    assert matches(efi.spec, **ids(partuuid="0a1b2c3d-02"))
    assert matches(swap.spec, **ids(device="/dev/sda4"))
    assert not matches(swap.spec, **ids(device="/dev/sda3"))
    assert not matches("UUID=", **ids(uuid=""))
