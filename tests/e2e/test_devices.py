"""The test bed's devices, each checked from both sides: disks on virtio and AHCI written by the
guest and read on the host, CDs made with xorriso mounted as ISO 9660, and a network that
reaches the test's own server on the host's 127.0.0.1 through a forward, and nothing else."""

from __future__ import annotations

import http.server
import secrets
import shutil
import socket
import subprocess
import threading
import urllib.request

import pytest

from tests.e2e.vm import Cdrom, Disk, GuestForward, HostForward, Network

MIB = 1 << 20


def _image(path, size=64 * MIB, marker: bytes = b"", at: int = 0):
    with open(path, "wb") as image:
        image.truncate(size)
        image.seek(at)
        image.write(marker)
    return path


def test_a_virtio_disk_and_an_ahci_disk_are_seen_read_and_written_by_the_guest(
        boot_shell, tmp_path):
    from_host = {name: secrets.token_hex(8) for name in ("virtio", "ahci")}
    virtio = _image(tmp_path / "virtio.img", marker=from_host["virtio"].encode(), at=MIB)
    ahci = _image(tmp_path / "ahci.img", marker=from_host["ahci"].encode(), at=MIB)
    vm = boot_shell(disks=[Disk(virtio, serial="E2E-VIRTIO"), Disk(ahci, interface="ahci")])
    run = vm.console.run

    assert run("cat /sys/block/vda/serial").output == "E2E-VIRTIO"
    assert "/ata" in run("readlink -f /sys/block/sda").output  # behind the AHCI controller
    assert run("cat /sys/block/sda/size").output == f"{64 * MIB // 512}\n"
    from_guest = {}
    for name, device in (("virtio", "/dev/vda"), ("ahci", "/dev/sda")):
        assert run(f"dd if={device} bs=1M skip=1 count=1 2>/dev/null | head -c 16").output \
            == from_host[name]
        from_guest[name] = secrets.token_hex(8)
        run(f"printf {from_guest[name]} | dd of={device} bs=512 seek=4096 conv=notrunc")
    run("sync")
    vm.console.send_line("poweroff -f")
    vm.wait_exit()

    for name, image in (("virtio", virtio), ("ahci", ahci)):
        with open(image, "rb") as disk:
            disk.seek(2 * MIB)
            assert disk.read(16).decode() == from_guest[name]


@pytest.mark.skipif(shutil.which("xorriso") is None, reason="needs xorriso")
def test_cds_made_with_xorriso_on_ahci_and_virtio_scsi_are_mounted_as_iso9660(
        boot_shell, tmp_path):
    contents = {}
    for interface in ("ahci", "virtio-scsi"):
        tree = tmp_path / interface
        tree.mkdir()
        contents[interface] = secrets.token_hex(8)
        (tree / "hello.txt").write_text(contents[interface])
        subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", f"E2E-{interface}",
                        "-o", str(tmp_path / f"{interface}.iso"), str(tree)], check=True)
    vm = boot_shell(cdroms=[Cdrom(tmp_path / f"{i}.iso", interface=i) for i in contents])
    run = vm.console.run

    assert "isofs" not in run("cat /proc/modules").output
    run("modprobe isofs")
    seen = {}
    for device in ("sr0", "sr1"):  # numbered in the order the drivers found them
        path = run(f"readlink -f /sys/block/{device}").output
        interface = "ahci" if "/ata" in path else "virtio-scsi" if "/virtio" in path else path
        run(f"mkdir -p /mnt/{device} && mount -t iso9660 -o ro /dev/{device} /mnt/{device}")
        seen[interface] = run(f"cat /mnt/{device}/hello.txt").output
    assert seen == contents


class _Token(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.token.encode()
        self.server.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def host_servers():
    """Starts HTTP servers on 127.0.0.1, each answering with a token of its own; stops them."""
    servers = []

    def start() -> http.server.HTTPServer:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Token)
        server.token, server.requests = secrets.token_hex(8), []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(shutil.which("socat") is None, reason="needs socat (the forward's relay)")
def test_the_guest_reaches_the_hosts_server_through_its_forward_and_nothing_else(
        boot_shell, host_servers):
    forwarded, not_forwarded = host_servers(), host_servers()
    guest_http = _free_port()
    vm = boot_shell(network=Network(
        guest_forwards=[GuestForward(guest_port=8080, host_port=forwarded.server_port)],
        host_forwards=[HostForward(host_port=guest_http, guest_port=8000)]))
    run = vm.console.run
    run("ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 "
        "&& ip route add default via 10.0.2.2")

    # Twice: a forward serves each connection, not only the first.
    for attempt in ("first", "second"):
        assert run(f"wget -q -O - http://10.0.2.100:8080/{attempt}").output == forwarded.token
    assert forwarded.requests == ["/first", "/second"]
    # The other server on the same 127.0.0.1 (through the host's address in the guest's
    # network or the forward's), the world: nothing.
    for address in (f"10.0.2.2:{not_forwarded.server_port}",
                    f"10.0.2.100:{not_forwarded.server_port}", "1.1.1.1:80"):
        assert run(f"wget -q -T 3 -O - http://{address}/", check=False).status != 0, address
    assert not_forwarded.requests == []

    # And the other way: the host reaches the guest's port through its forward.
    run("mkdir -p /www && echo served-by-the-guest > /www/index.html && httpd -p 8000 -h /www")
    with urllib.request.urlopen(f"http://127.0.0.1:{guest_http}/", timeout=30) as reply:
        assert reply.read() == b"served-by-the-guest\n"
