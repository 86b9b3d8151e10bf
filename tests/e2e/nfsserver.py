"""An NFS server for the e2e tests: nfs-ganesha with its VFS backend (Debian packages nfs-ganesha
and nfs-ganesha-vfs), serving one directory of the host as NFS 4 over TCP on 127.0.0.1 only,
on a free port. The guest reaches it through a QEMU guest forward (tests/e2e/vm.py), so the
rescue system mounts `10.0.2.100:/share` as it would a server on its network:

    with nfs_server(export_dir, workdir) as server:
        network = Network(guest_forwards=[server.forward()])
        ... restore.nfs=10.0.2.100:/share ...

No rpcbind is needed (NFS 4 has one port; ganesha's registration with rpcbind fails and is
said in its log only), no grace period (Graceless: the guest's first OPEN is served at once),
its recovery state stays in the work directory. The server is stopped when the block ends,
also when the test fails; its log is kept in the work directory."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.vm import FORWARD_ADDRESS, GuestForward

GANESHA = "ganesha.nfsd"
NFS_PORT = 2049  # what the guest connects to (the forward's guest side)
PSEUDO = "/share"
START_TIMEOUT = 30

CONFIG = """\
NFS_CORE_PARAM {{
    Bind_addr = 127.0.0.1;
    NFS_Port = {port};
    Protocols = 4;
    Enable_NLM = false;
    Enable_RQUOTA = false;
    Enable_UDP = false;
}}
NFSV4 {{
    Graceless = true;
    RecoveryBackend = fs;
    RecoveryRoot = "{recovery}";
}}
NFS_KRB5 {{ Active_krb5 = false; }}
EXPORT_DEFAULTS {{ Access_Type = RW; }}
EXPORT {{
    Export_Id = 1;
    Path = "{export}";
    Pseudo = "{pseudo}";
    Access_Type = {access};
    Squash = No_Root_Squash;
    SecType = sys;
    Protocols = 4;
    Transports = TCP;
    FSAL {{ Name = VFS; }}
}}
"""


@dataclass(frozen=True)
class NfsServer:
    port: int  # on 127.0.0.1
    export: Path
    log: Path
    pseudo: str = PSEUDO

    def forward(self, guest_address: str = FORWARD_ADDRESS) -> GuestForward:
        """The guest's NFS port at guest_address reaching this server."""
        return GuestForward(guest_port=NFS_PORT, host_port=self.port,
                            guest_address=guest_address)

    def share(self, guest_address: str = FORWARD_ADDRESS) -> str:
        """SERVER:/PATH as the guest names it."""
        return f"{guest_address}:{self.pseudo}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


@contextlib.contextmanager
def nfs_server(export: Path, workdir: Path, read_only: bool = False) -> Iterator[NfsServer]:
    """ganesha serving export (read-write unless read_only) until the block ends."""
    if shutil.which(GANESHA) is None:
        pytest.skip("nfs-ganesha is not installed (Debian packages nfs-ganesha, "
                    "nfs-ganesha-vfs)")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "recovery").mkdir(exist_ok=True)
    port = free_port()
    config = workdir / "ganesha.conf"
    config.write_text(CONFIG.format(port=port, recovery=workdir / "recovery", export=export,
                                    pseudo=PSEUDO, access="RO" if read_only else "RW"))
    log = workdir / "ganesha.log"
    process = subprocess.Popen([GANESHA, "-F", "-f", str(config), "-L", str(log),
                                "-p", str(workdir / "ganesha.pid"), "-N", "NIV_EVENT"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                raise AssertionError(f"ganesha did not start on 127.0.0.1:{port} (exit status "
                                     f"{process.poll()}); its log ends:\n{tail}")
            time.sleep(0.2)
        yield NfsServer(port, export, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # ganesha's clean shutdown
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
