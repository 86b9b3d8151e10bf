"""The virtual machines of the e2e tests: QEMU (TCG, no KVM here) with a serial console that the
test reads and types into, disks on virtio, AHCI, virtio-scsi or NVMe, CDs, and a network only
where a test asks for one, reaching nothing but the forwards it names.

    machine = Machine(kernel=k.vmlinuz, initrd=image, disks=[Disk(path)], workdir=tmp)
    with machine.running() as vm:
        vm.console.wait_for("e2e: ready", timeout=120)
        print(vm.console.run("cat /proc/partitions").output)

Every wait has a hard timeout; on a timeout the failure shows the screen and the end of the
serial log. QEMU is killed when the `with` block ends, also on failure."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.terminal import Transcript, VirtualScreen, key_bytes

QEMU = "qemu-system-x86_64"
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
DEFAULT_APPEND = "console=ttyS0,115200 panic=-1"
# A guest forward's address in the slirp network (10.0.2.2 is the host's own, taken by QEMU).
FORWARD_ADDRESS = "10.0.2.100"
LOG_TAIL_LINES = 60  # in a failure's message: a kernel panic's first line and its trace


class VmError(AssertionError):
    """The machine did not do what the test waited for; the message holds what it showed."""


@dataclass(frozen=True)
class Disk:
    """A disk image. `interface`: virtio (/dev/vdX), ahci (/dev/sdX through ich9-ahci),
    virtio-scsi (/dev/sdX) or nvme (/dev/nvmeXn1). `serial` is what the guest reads as the
    disk's serial (udev ID_SERIAL), as the console matches disks by it."""
    path: Path
    interface: str = "virtio"
    serial: str | None = None
    readonly: bool = False
    format: str = "raw"
    boot: bool = False  # the firmware boots from it (BIOS or UEFI), with no -kernel given
    snapshot: bool = False  # the guest's writes go to a temporary file: the image stays as it is


@dataclass(frozen=True)
class Cdrom:
    """An ISO image in a CD/DVD drive: on AHCI (ide-cd) or virtio-scsi (scsi-cd), /dev/srN."""
    path: Path
    interface: str = "ahci"
    boot: bool = False


@dataclass(frozen=True)
class GuestForward:
    """The guest's TCP connections to guest_address:guest_port reach 127.0.0.1:host_port."""
    guest_port: int
    host_port: int
    guest_address: str = FORWARD_ADDRESS


@dataclass(frozen=True)
class HostForward:
    """Connections to the host's 127.0.0.1:host_port reach the guest's guest_port."""
    host_port: int
    guest_port: int


@dataclass(frozen=True)
class Network:
    """QEMU user networking with restrict=on: the guest (10.0.2.15 by DHCP) reaches only the
    forwards listed; nothing else on the host or beyond."""
    guest_forwards: Sequence[GuestForward] = ()
    host_forwards: Sequence[HostForward] = ()
    model: str = "virtio-net-pci"  # the guest then needs virtio_net
    mac: str | None = None  # the card's MAC address (QEMU's default: 52:54:00:12:34:56)
    # QEMU's own TFTP server (inside the user network, at 10.0.2.2) serving this directory,
    # and the boot file its DHCP names: network boot through the card's iPXE ROM (-boot n).
    tftp: Path | None = None
    bootfile: str | None = None


@dataclass
class Machine:
    """What to boot and what to attach. With `kernel`, QEMU loads kernel and initrd itself
    (under BIOS or UEFI); without it the firmware boots the disk or CD marked `boot`."""
    workdir: Path
    kernel: Path | None = None
    initrd: Path | None = None
    append: str = DEFAULT_APPEND
    memory_mib: int = 768
    cpus: int = 1
    disks: Sequence[Disk] = ()
    cdroms: Sequence[Cdrom] = ()
    network: Network | None = None
    firmware: str = "bios"  # or "uefi" (OVMF)
    screen: tuple[int, int] = (80, 24)  # the terminal the test reads: columns, lines
    extra_args: Sequence[str] = field(default_factory=tuple)

    def running(self) -> contextlib.AbstractContextManager[RunningMachine]:
        """`with machine.running() as vm:` QEMU runs inside the block only."""
        return running(self)

    def command(self, sockets: Path) -> list[str]:
        """QEMU's command line; its serial and QMP sockets go in `sockets`. For UEFI it also
        puts a copy of OVMF's variable store in the work directory."""
        serial = sockets / "serial.sock"
        argv = [QEMU, "-machine", "q35,accel=tcg", "-m", str(self.memory_mib),
                "-smp", str(self.cpus), "-nodefaults", "-no-user-config", "-nographic",
                "-no-reboot", "-monitor", "none",
                "-chardev", (f"socket,id=serial0,path={serial},server=on,wait=on,"
                             f"logfile={self.serial_log},logappend=off"),
                "-serial", "chardev:serial0",
                "-qmp", f"unix:{sockets / 'qmp.sock'},server=on,wait=off"]
        if self.firmware == "uefi":
            variables = self.workdir / "OVMF_VARS.fd"
            shutil.copyfile(OVMF_VARS, variables)
            argv += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                     "-drive", f"if=pflash,format=raw,unit=1,file={variables}"]
        elif self.firmware != "bios":
            raise ValueError(f"firmware {self.firmware!r}: bios or uefi")
        if self.kernel is not None:
            argv += ["-kernel", str(self.kernel), "-append", self.append]
            if self.initrd is not None:
                argv += ["-initrd", str(self.initrd)]
        argv += self._storage()
        if self.network is not None:
            argv += _network(self.network)
        return argv + list(self.extra_args)

    @property
    def serial_log(self) -> Path:
        return self.workdir / "serial.log"

    def _storage(self) -> list[str]:
        argv: list[str] = []
        drives = (*self.disks, *self.cdroms)
        if any(drive.interface == "virtio-scsi" for drive in drives):
            argv += ["-device", "virtio-scsi-pci,id=scsi0"]
        ahci_ports = iter(range(6))  # q35's own ICH9 AHCI controller: ide.0 to ide.5
        for number, drive in enumerate(drives):
            name = f"drive{number}"
            argv += ["-drive", _drive(drive, name)]
            argv += ["-device", _device(drive, name, ahci_ports)]
        return argv


def _drive(drive: Disk | Cdrom, name: str) -> str:
    if isinstance(drive, Cdrom):
        return f"if=none,id={name},format=raw,file={drive.path},media=cdrom,readonly=on"
    options = f"if=none,id={name},format={drive.format},file={drive.path}"
    if drive.readonly:
        options += ",readonly=on"
    if drive.snapshot:
        options += ",snapshot=on"
    return options


def _device(drive: Disk | Cdrom, name: str, ahci_ports: Iterator[int]) -> str:
    is_cd = isinstance(drive, Cdrom)
    kind = {("virtio", False): "virtio-blk-pci", ("ahci", False): "ide-hd",
            ("ahci", True): "ide-cd", ("virtio-scsi", False): "scsi-hd",
            ("virtio-scsi", True): "scsi-cd", ("nvme", False): "nvme"}.get((drive.interface, is_cd))
    if kind is None:
        raise ValueError(f"{drive.interface!r} is no interface for {drive}")
    device = f"{kind},drive={name}"
    if drive.interface == "ahci":
        device += f",bus=ide.{next(ahci_ports)}"
    elif drive.interface == "virtio-scsi":
        device += ",bus=scsi0.0"
    if not is_cd and (drive.serial or drive.interface == "nvme"):  # NVMe must have one
        device += f",serial={drive.serial or name}"
    if drive.boot:
        device += ",bootindex=0"
    return device


def _network(network: Network) -> list[str]:
    rules = ["user", "id=net0", "restrict=on"]
    for forward in network.guest_forwards:
        # A command per connection (QEMU spawns it for each one): a chardev would connect once,
        # when QEMU starts, and carry all connections in one stream.
        relay = f"{shutil.which('socat')} STDIO TCP:127.0.0.1:{forward.host_port}"
        rules.append(f"guestfwd=tcp:{forward.guest_address}:{forward.guest_port}-cmd:{relay}")
    for forward in network.host_forwards:
        rules.append(f"hostfwd=tcp:127.0.0.1:{forward.host_port}-:{forward.guest_port}")
    if network.tftp is not None:
        rules.append(f"tftp={network.tftp}")
    if network.bootfile is not None:
        rules.append(f"bootfile={network.bootfile}")
    card = f"{network.model},netdev=net0" + (f",mac={network.mac}" if network.mac else "")
    return ["-netdev", ",".join(rules), "-device", card]


@dataclass(frozen=True)
class Completed:
    output: str
    status: int


class SerialConsole:
    """The guest's first serial port: what it writes (as a stream of text with the escape
    sequences taken out, and as an 80x24 screen) and what the test types."""

    def __init__(self, sock: socket.socket, process: subprocess.Popen, log: Path,
                 columns: int = 80, lines: int = 24):
        self._sock = sock
        self._process = process
        self.log = log
        self.transcript = Transcript()
        # The bytes as the guest sent them: QEMU's chardev log file can repeat a byte when a
        # write to the socket was partial, under load.
        self.received = bytearray()
        self.screen = VirtualScreen(columns, lines)
        self._changed = threading.Condition()
        self._commands = 0
        self._reader = threading.Thread(target=self._read, name="serial-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                chunk = b""
            with self._changed:
                if chunk:
                    self.received += chunk
                    self.transcript.feed(chunk)
                    self.screen.feed(chunk)
                else:
                    self.transcript.closed = True
                self._changed.notify_all()
            if not chunk:
                return

    # Typing.

    def type(self, text: str) -> None:
        """Sends text as typed, nothing added."""
        self._sock.sendall(text.encode())

    def send_line(self, text: str) -> None:
        self.type(text + "\r")

    def press(self, *keys: str, terminal: str = "xterm", pause: float = 0.1) -> None:
        """Presses named keys (Enter, Escape, F1, Up, Ctrl-C, ... see terminal.KEYS) as the
        given terminal sends them: xterm, vt220 (F1 = ESC [11~) or linux (F1 = ESC [[A).
        The pause after each lets an application tell a lone Escape from a sequence."""
        for key in keys:
            self._sock.sendall(key_bytes(key, terminal))
            time.sleep(pause)

    # Waiting.

    def wait_for(self, expected: str | re.Pattern, timeout: float = 60) -> re.Match:
        """Waits until `expected` (text, or a regular expression) appears in what the guest
        wrote after the previous match; the match. Fails after `timeout` seconds."""
        if isinstance(expected, re.Pattern):
            pattern, what = expected, f"match of {expected.pattern!r}"
        else:
            pattern, what = re.compile(re.escape(expected)), repr(expected)
        return self._until(lambda: self.transcript.search(pattern), what, timeout)

    def wait_for_screen(self, expected: str | re.Pattern, timeout: float = 60) -> str:
        """Waits until `expected` (text, or a regular expression) is on the screen as a person
        would read it; the screen's text."""
        if isinstance(expected, re.Pattern):
            shown, what = expected.search, f"match of {expected.pattern!r} on the screen"
        else:
            shown, what = (lambda text: expected in text), f"{expected!r} on the screen"

        def screen_showing() -> str | None:
            text = self.screen.text()
            return text if shown(text) else None
        return self._until(screen_showing, what, timeout)

    def run(self, command: str, timeout: float = 60, check: bool = True) -> Completed:
        """Runs a command in the guest's shell (sh, ash or bash at a prompt); its output (with
        \\r\\n as \\n) and exit status. With `check`, a status other than 0 fails."""
        self._commands += 1
        tag = f"E2E{self._commands}"
        # The markers are printed by printf from pieces, so the echo of the typed line never
        # matches them.
        # The end marker starts a line of its own: output without a last newline keeps it so.
        self.send_line(f"printf '@%s@\\n' {tag}-start; {command}; printf '\\n@%s@%s@\\n' {tag} $?")
        self.wait_for(re.compile(rf"@{tag}-start@\n"), timeout)
        end = self.wait_for(re.compile(rf"\n@{tag}@(\d+)@\n"), timeout)
        result = Completed(self.transcript.before(end), int(end.group(1)))
        if check and result.status != 0:
            raise VmError(f"{command!r} ended with status {result.status}:\n{result.output}")
        return result

    def _until(self, found, what: str, timeout: float):
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if (result := found()) is not None:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise VmError(self.report(f"no {what} after {timeout:g} s"))
                if self.transcript.closed or self._process.poll() is not None:
                    self._changed.wait(0.5)  # the last words QEMU wrote
                    if (result := found()) is not None:
                        return result
                    raise VmError(self.report(
                        f"the machine stopped (QEMU exit status {self._process.poll()}) "
                        f"before {what}"))
                self._changed.wait(min(remaining, 1.0))

    def report(self, fact: str) -> str:
        """`fact`, then the screen, the end of the serial log and, once QEMU has ended, what it
        said: the message of a failed wait."""
        tail = "\n".join(self.transcript.text.splitlines()[-LOG_TAIL_LINES:])
        message = (f"{fact}\n--- screen ---\n{self.screen.text()}\n"
                   f"--- end of the serial log ({self.log}) ---\n{tail}")
        qemu_said = self.log.with_name("qemu.stderr")
        if self._process.poll() is not None and qemu_said.exists():
            said = [line for line in qemu_said.read_text(errors="replace").splitlines()
                    if "QEMU waiting for connection" not in line]
            message += "\n--- QEMU said ---\n" + "\n".join(said)
        return message


class RunningMachine:
    def __init__(self, machine: Machine, process: subprocess.Popen, console: SerialConsole,
                 sockets: Path):
        self.machine = machine
        self.process = process
        self.console = console
        self._sockets = sockets

    def qmp(self, command: str, **arguments) -> dict:
        """One QMP command (e.g. query-status, eject, system_powerdown); its return value."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(str(self._sockets / "qmp.sock"))
            replies = sock.makefile("rwb")
            replies.readline()  # the greeting
            for message in ({"execute": "qmp_capabilities"},
                            {"execute": command, "arguments": arguments}):
                replies.write(json.dumps(message).encode() + b"\n")
                replies.flush()
                while "return" not in (reply := json.loads(replies.readline())):
                    if "error" in reply:
                        raise VmError(f"QMP {command}: {reply['error']}")
            return reply["return"]

    def wait_exit(self, timeout: float = 60) -> int:
        """Waits for the guest to power off or reboot (-no-reboot makes that an exit)."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise VmError(self.console.report(f"still running after {timeout:g} s")) from None


@contextlib.contextmanager
def running(machine: Machine, connect_timeout: float = 30) -> Iterator[RunningMachine]:
    """Starts QEMU, connects to its serial port and yields the running machine; kills QEMU
    (its whole process group) when the block ends, however it ends."""
    machine.workdir.mkdir(parents=True, exist_ok=True)
    # A UNIX socket's path has at most 107 bytes: not in a test's deep work directory.
    sockets = Path(tempfile.mkdtemp(prefix="e2e-vm-"))
    argv = machine.command(sockets)
    if shutil.which("setpriv"):  # QEMU also dies with the test run if that is killed outright
        argv = ["setpriv", "--pdeathsig", "KILL", "--", *argv]
    (machine.workdir / "qemu.cmdline").write_text(" ".join(argv) + "\n")
    with open(machine.workdir / "qemu.stderr", "wb") as stderr:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stderr,
                                   stderr=stderr, start_new_session=True)
    sock = None
    try:
        sock = _connect(sockets / "serial.sock", process, connect_timeout,
                        machine.workdir / "qemu.stderr")
        console = SerialConsole(sock, process, machine.serial_log, *machine.screen)
        yield RunningMachine(machine, process, console, sockets)
    finally:
        _kill(process)
        if sock is not None:
            sock.close()
        shutil.rmtree(sockets, ignore_errors=True)


def _connect(path: Path, process: subprocess.Popen, timeout: float,
             stderr: Path) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            said = stderr.read_text(errors="replace").strip()
            raise VmError(f"QEMU ended at once (status {process.returncode}):\n{said}")
        try:
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(str(path))
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() > deadline:
                raise VmError(f"QEMU made no serial socket in {timeout:g} s") from None
            time.sleep(0.05)


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()
