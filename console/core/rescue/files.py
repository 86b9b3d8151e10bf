"""The small files of the image: terminfo, the few files in /etc a program looks for, and init."""

from __future__ import annotations

import os
from importlib.resources import files

from .image import RescueImage

TERMINALS = ("linux", "vt100", "vt220", "xterm")
TERMINFO_DIRS = ("/usr/share/terminfo", "/lib/terminfo", "/etc/terminfo")
ETC = {
    "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
    "/etc/group": "root:x:0:\ndisk:x:6:\ntape:x:26:\n",
    "/etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
    "/etc/hosts": "127.0.0.1 localhost\n",
    "/etc/profile": "export PATH=/usr/sbin:/usr/bin\nexport PS1='rescue:\\w# '\n",
    # No udev here: LVM makes the device nodes of what it activates itself, and lists the
    # block devices from /dev, instead of waiting for udev.
    "/etc/lvm/lvm.conf": "activation {\n\tudev_sync = 0\n\tudev_rules = 0\n}\n"
                         "devices {\n\tobtain_device_list_from_udev = 0\n}\n",
}
DHCP_SCRIPT = "/usr/share/udhcpc/default.script"


def add_terminfo(image: RescueImage) -> int:
    count = 0
    for term in TERMINALS:
        for directory in TERMINFO_DIRS:
            path = os.path.join(directory, term[0], term)
            if os.path.exists(path):
                count += image.add_file(path, f"/usr/share/terminfo/{term[0]}/{term}")
                break
    return count


def add_etc_and_init(image: RescueImage) -> int:
    for path, text in ETC.items():
        image.write(path, text)
    for name in ("root", "tmp", "proc", "sys", "dev", "run", "mnt", "media"):
        os.makedirs(image.inside(name), exist_ok=True)
    package = files(__package__)
    image.write("/init", package.joinpath("init.sh").read_text(), 0o755)
    image.write(DHCP_SCRIPT, package.joinpath("udhcpc.sh").read_text(), 0o755)
    return len(ETC) + 2
