"""A set on an NFS share: `nfs://SERVER/PATH` or `SERVER:/PATH`, each optionally followed by
`,OPTIONS` (as the rescue system's `restore.nfs=SERVER:/PATH[,OPTIONS]`), mounted read-only
by the console and then read as a set directory. A share someone already mounted (init's
`restore.nfs`) is a directory and needs nothing from here.

The rescue system has no mount.nfs helper: the kernel's own NFS mount is used, and it wants
the server's address as `addr=` (a name is looked up here). NFS version 4 is tried first,
then version 3 with nolock over TCP (the rescue system runs no lock daemon); an OPTIONS with
`vers=` or `nfsvers=` tries that version only. The mounts are undone when the console ends
(unmount_shares, at exit and by the command line's own end, also on a failure or a signal).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import RestoreError, UsageError
from ..events import Listener, Message, ignore

TOOLS = ("mount", "umount")  # run here; the rescue image carries them

log = logging.getLogger("restore_console")

MOUNT_TIMEOUT = 90  # seconds: a server that does not answer is said so, not waited for forever
RUN_DIRECTORY = "/run/restore-console"  # where the shares are mounted, when it exists
_SCHEME = "nfs://"
# SERVER:/PATH, SERVER a name, an IPv4 address or [an IPv6 address]; no / in the server.
_SHORT = re.compile(r"^(?P<server>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(?P<path>/.*)$")
_URL = re.compile(r"^nfs://(?P<server>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)"
                  r"(?::(?P<port>\d+))?(?P<path>/.*)?$")


# The server answered, and said no: no such export, or not to this machine.
_ANSWERED = re.compile(r"no such file or directory|does not exist|permission denied|"
                       r"access denied|operation not permitted", re.I)


@dataclass(frozen=True)
class NfsShare:
    server: str  # a name or an address, without brackets
    path: str  # the exported path (or a directory below it)
    options: tuple[str, ...] = ()  # mount options the operator added

    @property
    def source(self) -> str:
        """SERVER:/PATH as the kernel's mount takes it."""
        server = f"[{self.server}]" if ":" in self.server else self.server
        return f"{server}:{self.path}"

    def __str__(self) -> str:
        return self.source + "".join(f",{option}" for option in self.options)


def parse_share(text: str) -> NfsShare | None:
    """The share named by text, or None when text does not name one (a path, a device).
    `nfs://SERVER[:PORT]/PATH[,OPTIONS]` or `SERVER:/PATH[,OPTIONS]`."""
    if not text or os.path.exists(text):  # a local path is a local path, whatever its form
        return None
    spec, _, rest = text.partition(",")
    options = tuple(o for o in rest.split(",") if o) if rest else ()
    if spec.startswith(_SCHEME):
        match = _URL.match(spec)
        if not match:
            raise UsageError(f"{text} is not an NFS share of the form nfs://SERVER/PATH.",
                             "Example: nfs://backup.example.org/srv/sets/web1")
        if match.group("port"):
            options += (f"port={match.group('port')}",)
        path = match.group("path") or "/"
    else:
        match = _SHORT.match(spec)
        if not match:
            return None
        path = match.group("path")
    server = match.group("server").strip("[]")
    for option in options:
        if option.split("=", 1)[0] in ("rw", "ro"):
            raise UsageError(f"{text}: the share is always mounted read-only; leave out "
                             f"'{option}'.")
    return NfsShare(server, os.path.normpath(path).replace("//", "/"), options)


def is_share(text: str) -> bool:
    return parse_share(text) is not None


def _version_given(options: tuple[str, ...]) -> str | None:
    for option in options:
        name, _, value = option.partition("=")
        if name in ("vers", "nfsvers"):
            return value
        if name in ("v3", "v4"):  # the short forms mount.nfs takes
            return name[1:]
    return None


def mount_commands(share: NfsShare, address: str, directory: str,
                   read_only: bool = True) -> list[list[str]]:
    """The mounts tried in order: NFS 4, then 3 with nolock over TCP; only the version asked
    for when OPTIONS name one."""
    mode = "ro" if read_only else "rw"
    given = [o for o in share.options if o not in ("v3", "v4")]
    version = _version_given(share.options)
    extra = [] if read_only else ["nosharecache"]  # beside a read-only mount of the same share
    v4 = ["-t", "nfs4", "-o", ",".join([mode, *extra, f"addr={address}", *given])]
    v3 = ["-t", "nfs", "-o", ",".join([mode, *extra, "nolock", "proto=tcp", "mountproto=tcp",
                                       f"addr={address}", *given])]
    if version is None:
        v4[-1] = v4[-1].replace(f"{mode},", f"{mode},vers=4,", 1)
        v3[-1] = v3[-1].replace(f"{mode},", f"{mode},vers=3,", 1)
        tries = [v4, v3]
    elif version.startswith("4"):
        tries = [v4]
    else:
        tries = [v3]
    return [["mount", *options, share.source, directory] for options in tries]


def server_address(server: str) -> str:
    """The server's address (the kernel's mount takes no name)."""
    try:
        infos = socket.getaddrinfo(server, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RestoreError(f"The NFS server's name {server} does not resolve ({exc}).",
                           "Check the name and the network's DNS, or give the server's "
                           "address instead.") from None
    ipv4 = [info for info in infos if info[0] == socket.AF_INET]
    return (ipv4 or infos)[0][4][0]


def failure_words(share: NfsShare, stderr: str) -> RestoreError:
    """Why the mount failed, from what mount said (the kernel's error, as text)."""
    said = _reason(stderr)
    lower = stderr.lower()
    where = share.source
    if "unknown filesystem type" in lower or "no such device" in lower:
        return RestoreError(f"This kernel cannot mount NFS ({said}).",
                            "Load its modules (modprobe nfsv4; modprobe nfsv3) and try again.")
    if any(word in lower for word in ("connection refused", "timed out", "no route to host",
                                      "network is unreachable", "host is down",
                                      "did not answer")):
        return RestoreError(f"The NFS server {share.server} does not answer ({said}).",
                            "Check that it runs and that this machine reaches it (the network "
                            "is up, the address is right, no firewall between).")
    if "no such file or directory" in lower or "does not exist" in lower:
        return RestoreError(f"The NFS server {share.server} exports no {share.path} ({said}).",
                            f"Check the share's path (showmount -e {share.server} on another "
                            "machine lists the exports).")
    if "permission denied" in lower or "access denied" in lower or \
            "operation not permitted" in lower:
        return RestoreError(f"The NFS server {share.server} refuses this machine access to "
                            f"{share.path} ({said}).",
                            "Export it to this machine's address on the server.")
    return RestoreError(f"Could not mount the NFS share {where}: {said}.",
                        "The log has the full output; the share's options can be given as "
                        f"{where},OPTION,...")


def _reason(stderr: str) -> str:
    """What mount said, without its own prefix (mount: DIR:) and its advice about dmesg."""
    for line in stderr.strip().splitlines():
        line = line.strip()
        if not line or line.startswith("dmesg("):
            continue
        return re.sub(r"^mount(\.nfs4?)?: (\S+: )?", "", line).rstrip(".")
    return "no reason given"


# Where the kernel takes this machine's NFS 4 client identity (5.17 on; else the module option).
CLIENT_IDENTITY = ("/sys/fs/nfs/net/nfs_client/identifier",
                   "/sys/module/nfs/parameters/nfs4_unique_id")


def unique_client_identity(places: tuple[str, ...] = CLIENT_IDENTITY) -> None:
    """A random NFS 4 client identity for this boot, unless one is set: machines that boot the
    same rescue system have the same name, and the server would take them for one client
    (each one's mount expiring the others' opens and locks: a fleet restoring at once)."""
    for place in places:
        try:
            with open(place) as f:
                current = f.read().strip()
        except OSError:
            continue
        if current in ("", "(null)"):
            try:
                with open(place, "w") as f:
                    f.write(str(uuid.uuid4()))
            except OSError as exc:
                log.warning("cannot set the NFS client identity in %s: %s", place, exc)
        return


def mount_share(share: NfsShare, directory: str, listener: Listener = ignore,
                read_only: bool = True) -> None:
    """Mounts the share on directory: version 4, else 3 (see mount_commands)."""
    address = server_address(share.server)
    unique_client_identity()
    failures = []
    for command in mount_commands(share, address, directory, read_only):
        version = "NFS 4" if command[2] == "nfs4" else "NFS 3"
        listener(Message(f"Mounting the NFS share {share} ({version})"))
        log.info("run: %s", " ".join(command))
        try:
            proc = subprocess.run(["mount", *command[1:]], capture_output=True,
                                  timeout=MOUNT_TIMEOUT)
        except subprocess.TimeoutExpired:
            failures.append(f"the server did not answer within {MOUNT_TIMEOUT} s")
            continue
        except FileNotFoundError:
            raise RestoreError("The tool 'mount' is not installed on this system.",
                               "Install util-linux, or use the rescue system.") from None
        if proc.returncode == 0:
            return
        stderr = proc.stderr.decode(errors="replace")
        log.warning("mounting %s failed: %s", share, stderr.strip())
        failures.append(stderr.strip())
        if _ANSWERED.search(stderr):
            break  # the server answered: another version would not find more
    raise failure_words(share, failures[0] if failures else "")


def unmount(directory: str) -> None:
    """Unmounts directory; lazily when something still holds it open (the console is ending)."""
    proc = subprocess.run(["umount", directory], capture_output=True)
    if proc.returncode != 0:
        log.warning("umount %s: %s", directory, proc.stderr.decode(errors="replace").strip())
        subprocess.run(["umount", "-l", directory], capture_output=True)
    try:
        os.rmdir(directory)
    except OSError:
        pass


_MOUNTED: dict[NfsShare, str] = {}


def share_directory(where: str, listener: Listener = ignore) -> str:
    """The local directory of a SET: where itself, or for an NFS share its mount point (mounted
    read-only here the first time; the plan, then its application reuse it)."""
    share = parse_share(where)
    if share is None:
        return where
    if share not in _MOUNTED:
        base = RUN_DIRECTORY if os.path.isdir(RUN_DIRECTORY) else None
        directory = tempfile.mkdtemp(prefix="nfs-", dir=base)
        try:
            mount_share(share, directory, listener)
        except BaseException:
            os.rmdir(directory)
            raise
        _MOUNTED[share] = directory
        log.info("mounted the NFS share %s on %s", share, directory)
    directory = _MOUNTED[share]
    if not os.path.isfile(os.path.join(directory, "manifest.json")):
        raise UsageError(f"The NFS share {share.source} holds no backup set: there is no "
                         "manifest.json at its top.",
                         "Name the set's directory on the share (SERVER:/PATH/TO/SET).")
    return directory


def unmount_shares() -> None:
    """Unmounts every share mounted here (at the end of the command, also after a failure)."""
    while _MOUNTED:
        share, directory = _MOUNTED.popitem()
        log.info("unmounting the NFS share %s from %s", share, directory)
        unmount(directory)


atexit.register(unmount_shares)


def _mount_entry(point: str, mounts: str = "/proc/mounts") -> tuple[str, str, list[str]] | None:
    """(source, type, options) of what is mounted on point (the last mount there)."""
    found = None
    with open(mounts) as f:
        for line in f:
            words = line.split()
            if len(words) >= 4 and _unescape(words[1]) == point:
                found = (_unescape(words[0]), words[2], words[3].split(","))
    return found


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def writable_options(options: list[str]) -> list[str]:
    """A read-only NFS mount's options (as /proc/mounts shows them) for a read-write mount of
    the same share beside it."""
    kept = [o for o in options if o not in ("ro", "rw", "nosharecache", "sharecache")]
    return ["rw", "nosharecache", *kept]


@contextlib.contextmanager
def writable(root: str) -> Iterator[str | None]:
    """root for writing: itself when it can be written; when it is a read-only NFS mount (the
    set is read through it), the same share mounted read-write elsewhere for the block; None
    when neither can be had (the reason goes to the log)."""
    root = os.path.realpath(root)
    point = root
    while not os.path.ismount(point) and point != "/":
        point = os.path.dirname(point)
    entry = _mount_entry(point)
    if entry is None or not entry[1].startswith("nfs") or "ro" not in entry[2]:
        yield root if os.access(root, os.W_OK) else None
        return
    source, kind, options = entry
    below = os.path.relpath(root, point)
    base = RUN_DIRECTORY if os.path.isdir(RUN_DIRECTORY) else None
    directory = tempfile.mkdtemp(prefix="nfs-rw-", dir=base)
    proc = subprocess.run(["mount", "-t", kind, "-o", ",".join(writable_options(options)),
                           source, directory], capture_output=True, timeout=MOUNT_TIMEOUT)
    if proc.returncode != 0:
        log.warning("the share %s cannot be mounted read-write: %s", source,
                    proc.stderr.decode(errors="replace").strip())
        os.rmdir(directory)
        yield None
        return
    try:
        yield os.path.normpath(os.path.join(directory, below))
    finally:
        unmount(directory)
