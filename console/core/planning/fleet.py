"""Fleets: the map on a share, `plans/map`, chooses each machine's plan by its MAC or IP address.

One line per machine, fields separated by blanks, `#` starts a comment:

    # MAC or IP address   plan          pre hook      post hook
    52:54:00:12:34:01     web1.json     -             post-web.sh
    10.0.2.15             db.json

The plan (made with `restore-console plan ... --save FILE`) and the hooks are paths relative
to the map's directory (plans/), or absolute; `-` (or nothing) is no hook. The map is the
nearest plans/map in the set's directory or above it, up to the root of the filesystem that
holds the set (the NFS share init mounted, or the one the console mounted). A machine found on
two lines that say different things is refused: nuke mode never guesses.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import re
import socket
import struct
from dataclasses import dataclass, field

from ..errors import RestoreError

MAP = os.path.join("plans", "map")
_MAC = re.compile(r"^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$", re.I)
SIOCGIFADDR = 0x8915  # linux/sockios.h: an interface's IPv4 address


@dataclass(frozen=True)
class FleetEntry:
    address: str  # a MAC (lower case, with colons) or an IP address (normalized)
    plan: str  # absolute
    pre: str | None = None
    post: str | None = None
    line: int = 0


@dataclass
class Addresses:
    """This machine's addresses: MACs of its network interfaces and their IP addresses."""
    macs: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)

    def __str__(self) -> str:
        return ", ".join(sorted(self.macs) + sorted(self.ips)) or "none"


def normal_address(text: str) -> str | None:
    """A MAC as aa:bb:cc:dd:ee:ff, an IP address as ipaddress writes it; None: neither."""
    if _MAC.match(text):
        return text.lower().replace("-", ":")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def parse_map(text: str, directory: str, where: str = MAP) -> list[FleetEntry]:
    """The entries of a map; paths made absolute against directory. A malformed line is an
    error naming it."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) < 2 or len(fields) > 4:
            raise RestoreError(f"{where}, line {number}: {len(fields)} fields; a line is 'MAC or "
                               "IP address, plan, [pre hook], [post hook]'.",
                               "Correct the map on the share.")
        address = normal_address(fields[0])
        if address is None:
            raise RestoreError(f"{where}, line {number}: {fields[0]} is neither a MAC address "
                               "(52:54:00:12:34:56) nor an IP address.",
                               "Correct the map on the share.")
        paths = [None if f == "-" else os.path.join(directory, f) for f in fields[1:]]
        paths += [None] * (3 - len(paths))
        if paths[0] is None:
            raise RestoreError(f"{where}, line {number}: no plan for {fields[0]}.",
                               "Name the plan file made with 'restore-console plan ... "
                               "--save FILE'.")
        entries.append(FleetEntry(address, paths[0], paths[1], paths[2], number))
    return entries


def choose(entries: list[FleetEntry], mine: Addresses, where: str = MAP) -> FleetEntry | None:
    """This machine's entry: the line of one of its MACs, else of one of its IP addresses;
    None when the map has none. Two lines for this machine that differ are refused."""
    for kind in (mine.macs, mine.ips):
        found = [e for e in entries if e.address in kind]
        different = {(e.plan, e.pre, e.post) for e in found}
        if len(different) > 1:
            lines = ", ".join(str(e.line) for e in found)
            raise RestoreError(f"{where} names this machine ({mine}) on lines {lines}, with "
                               "different plans or hooks; nuke mode does not guess.",
                               "Leave one line for this machine in the map.")
        if found:
            return found[0]
    return None


def share_root(set_dir: str) -> str:
    """The root of the filesystem holding the set: the share's top, where plans/ is."""
    path = os.path.realpath(set_dir)
    while not os.path.ismount(path) and path != "/":
        path = os.path.dirname(path)
    return path


def find_map(set_dir: str) -> str | None:
    """The nearest plans/map in the set's directory or above it, up to the root of its
    filesystem (the share's top); None when there is none."""
    path, top = os.path.realpath(set_dir), share_root(set_dir)
    while True:
        found = os.path.join(path, MAP)
        if os.path.isfile(found):
            return found
        if path == top or path == "/":
            return None
        path = os.path.dirname(path)


def read_map(path: str) -> list[FleetEntry]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as exc:
        raise RestoreError(f"The fleet map {path} cannot be read: {exc.strerror}.",
                           "Check the share's permissions.") from None
    return parse_map(text, os.path.dirname(path), path)


def this_machine(sys_net: str = "/sys/class/net") -> Addresses:
    """The MACs of this machine's interfaces (but loopback) and their IPv4 and IPv6 addresses."""
    found = Addresses()
    try:
        interfaces = sorted(os.listdir(sys_net))
    except OSError:
        interfaces = []
    for name in interfaces:
        try:
            with open(os.path.join(sys_net, name, "address")) as f:
                mac = f.read().strip().lower()
        except OSError:
            continue
        if name != "lo" and _MAC.match(mac) and mac != "00:00:00:00:00:00":
            found.macs.add(mac)
        ip = _ipv4_of(name)
        if ip and not ip.startswith("127."):
            found.ips.add(ip)
    try:
        with open("/proc/net/if_inet6") as f:
            for line in f:
                words = line.split()
                if len(words) == 6 and words[5] != "lo":
                    address = ipaddress.ip_address(bytes.fromhex(words[0]))
                    if not address.is_link_local:
                        found.ips.add(str(address))
    except OSError:
        pass
    return found


def _ipv4_of(interface: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), SIOCGIFADDR,
                                 struct.pack("256s", interface.encode()[:15]))
        except OSError:  # no IPv4 address on it
            return None
    return socket.inet_ntoa(answer[20:24])
