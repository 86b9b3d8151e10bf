"""A tape drive served by tgt (Debian package tgt): a userspace iSCSI target whose LUN 1 is a
file-backed tape (tgtimg, --device-type tape, --bstype ssc), on 127.0.0.1, started and stopped
by the test (also when it fails). QEMU attaches it through its own iSCSI initiator (libiscsi,
Debian package qemu-block-extra) as a SCSI generic device, so that the guest's st driver sees
/dev/st0 and /dev/nst0."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

IQN = "iqn.2026-12.org.restore-console:tape"
NEEDS = ("tgtd", "tgtadm", "tgtimg")


def missing_for_tgt() -> str | None:
    """Why a tgt tape cannot be served here, or None."""
    if missing := [tool for tool in NEEDS if shutil.which(tool) is None]:
        return f"needs {', '.join(missing)} (Debian package tgt; make test installs it)"
    probe = subprocess.run(["qemu-system-x86_64", "-nodefaults", "-display", "none",
                            "-drive", "file=iscsi://127.0.0.1:1/iqn.none/1,if=none,id=d"],
                           capture_output=True, text=True, timeout=30)
    if "block-iscsi not found" in probe.stderr or "Unknown protocol 'iscsi'" in probe.stderr:
        return ("QEMU has no iSCSI initiator here (Debian package qemu-block-extra; make test "
                "installs it)")
    return None


@dataclass(frozen=True)
class TapeTarget:
    url: str  # iscsi://127.0.0.1:PORT/IQN/1
    image: Path  # the tape's backing file

    def qemu_args(self, drive_id: str = "tape0") -> tuple[str, ...]:
        """The tape on a virtio-scsi controller of its own, passed through as SCSI generic."""
        return ("-drive", f"file={self.url},if=none,id={drive_id},format=raw",
                "-device", "virtio-scsi-pci,id=tapebus",
                "-device", f"scsi-generic,drive={drive_id},bus=tapebus.0")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def tape_target(workdir: Path, size_mib: int = 64) -> Iterator[TapeTarget]:
    """tgtd on 127.0.0.1 serving a new blank tape of size_mib; stopped when the block ends."""
    workdir.mkdir(parents=True, exist_ok=True)
    image = workdir / "tape.img"
    subprocess.run(["tgtimg", "--op", "new", "--device-type", "tape", "--barcode", "RC0001",
                    "--size", str(size_mib), "--type", "data", "--file", str(image)],
                   check=True, capture_output=True)
    port = _free_port()
    # -C: the management channel of this tgtd alone (another may run on the machine); tgtd
    # takes a number below 32768 there
    control = str(1000 + port % 30000)
    log = open(workdir / "tgtd.log", "wb")
    daemon = subprocess.Popen(["tgtd", "-f", "--iscsi", f"portal=127.0.0.1:{port}",
                               "-C", control], stdout=log, stderr=subprocess.STDOUT)

    def tgtadm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tgtadm", "-C", control, "--lld", "iscsi", *args],
                              capture_output=True, text=True, check=check)

    try:
        for _ in range(50):  # its management socket comes a moment after it starts
            if tgtadm("--mode", "target", "--op", "show", check=False).returncode == 0:
                break
            if daemon.poll() is not None:
                raise RuntimeError(f"tgtd ended: {(workdir / 'tgtd.log').read_text()}")
            time.sleep(0.1)
        tgtadm("--mode", "target", "--op", "new", "--tid", "1", "--targetname", IQN)
        tgtadm("--mode", "logicalunit", "--op", "new", "--tid", "1", "--lun", "1",
               "--bstype", "ssc", "--device-type", "tape", "--backing-store", str(image))
        tgtadm("--mode", "target", "--op", "bind", "--tid", "1", "--initiator-address", "ALL")
        yield TapeTarget(f"iscsi://127.0.0.1:{port}/{IQN}/1", image)
    finally:
        tgtadm("--mode", "target", "--op", "delete", "--force", "--tid", "1", check=False)
        subprocess.run(["tgtadm", "-C", control, "--mode", "sys", "--op", "delete"],
                       capture_output=True)
        try:
            daemon.wait(5)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
