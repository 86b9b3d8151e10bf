#!/usr/bin/env python3
"""The rescue system's boot under QEMU TCG: the time from the kernel's start to the console's
first screen on the serial line, against the time to a busybox shell in the same VM (the
baseline of bench/boot.py), both in the same run; and its memory after boot (free -m).

    sudo .venv/bin/python bench/rescue_boot.py [--repeat 3] [--rescue DIR] [--json FILE]

Both boot the same kernel with -m 768 and the console on ttyS0; the rescue system has its set
on a second disk, which its init finds by itself (making that disk needs root). The kernel's
start is placed on the host's clock from its own line "[ T] Run /init as init process": seen
at host time H, the kernel started at H - T (under TCG the guest's clock runs with the host's).
The busybox side also reports its init's /proc/uptime, which checks that placement. The rounds
alternate which side boots first; the medians count. The ratio is rescue / busybox.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import missing_for_e2e  # noqa: E402
from tests.e2e.initramfs import Kernel, build_initramfs  # noqa: E402
from tests.e2e.rescuevm import (  # noqa: E402
    FIRST_SCREEN,
    MEMORY_MIB,
    make_source_and_set_disk,
    rescue_machine,
    wait_for_screen_with,
)
from tests.e2e.vm import Disk, Machine  # noqa: E402

INIT_STARTS = re.compile(r"\[\s*(\d+\.\d+)\] Run /init as init process")
READY = re.compile(r"e2e: ready, ([0-9.]+) s after the kernel started")
BOOT_TIMEOUT = 300


def kernel_started(console) -> float:
    """The host's perf_counter at the kernel's start, from the line of init's start."""
    match = console.wait_for(INIT_STARTS, timeout=BOOT_TIMEOUT)
    return time.perf_counter() - float(match.group(1))


def busybox_boot(kernel: Kernel, initrd: Path, workdir: Path, memory: int) -> dict:
    started = time.perf_counter()
    with Machine(workdir=workdir, kernel=kernel.vmlinuz, initrd=initrd,
                 memory_mib=memory).running() as vm:
        kernel_start = kernel_started(vm.console)
        uptime = float(vm.console.wait_for(READY, timeout=BOOT_TIMEOUT).group(1))
        vm.console.wait_for("# ", timeout=60)
        now = time.perf_counter()
    return {"kernel_to_shell_s": now - kernel_start, "uptime_at_init_shell_s": uptime,
            "qemu_start_to_shell_s": now - started}


def rescue_boot(rescue: Path, set_disk: Path, workdir: Path, memory: int) -> dict:
    started = time.perf_counter()
    with rescue_machine(rescue, workdir, [Disk(set_disk, snapshot=True)],
                        memory_mib=memory).running() as vm:
        kernel_start = kernel_started(vm.console)
        wait_for_screen_with(vm.console, *FIRST_SCREEN, timeout=BOOT_TIMEOUT)
        now = time.perf_counter()
    return {"kernel_to_first_screen_s": now - kernel_start,
            "qemu_start_to_first_screen_s": now - started}


def rescue_memory(rescue: Path, set_disk: Path, workdir: Path, memory: int) -> dict:
    """free -m in expert mode once the shell is there, in MiB."""
    with rescue_machine(rescue, workdir, [Disk(set_disk, snapshot=True)], "restore=expert",
                        memory_mib=memory).running() as vm:
        vm.console.wait_for("restore-console: expert mode", timeout=BOOT_TIMEOUT)
        time.sleep(1)
        shown = vm.console.run("free -m").output
    names = ("total", "used", "free", "shared", "buff_cache", "available")
    values = re.search(r"^Mem:" + r"\s+(\d+)" * 6, shown, re.MULTILINE).groups()
    return {name: int(value) for name, value in zip(names, values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory", type=int, default=MEMORY_MIB, help="MiB (default 768)")
    parser.add_argument("--rescue", type=Path,
                        help="a directory mkrescue wrote (default: build one, about a minute)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if reason := missing_for_e2e():
        print(f"bench/rescue_boot.py {reason}", file=sys.stderr)
        return 2
    kernel = Kernel.installed()
    with tempfile.TemporaryDirectory(prefix="bench-rescue-boot-") as temporary:
        work = Path(temporary)
        rescue = args.rescue
        if rescue is None:
            from console.core.rescue.build import build_rescue
            rescue = Path(build_rescue(str(work / "rescue")).directory)
        initrd = build_initramfs(work / "shell.cpio", kernel=kernel)
        _, set_disk = make_source_and_set_disk(work)
        busybox, rescued = [], []
        for n in range(args.repeat):
            sides = [lambda: busybox.append(busybox_boot(kernel, initrd, work / f"busybox{n}",
                                                         args.memory)),
                     lambda: rescued.append(rescue_boot(rescue, set_disk, work / f"rescue{n}",
                                                        args.memory))]
            for side in sides if n % 2 == 0 else reversed(sides):
                side()
        memory = rescue_memory(rescue, set_disk, work / "memory", args.memory)
        initrd_size = (rescue / "initrd.img").stat().st_size

    def median(runs: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    result = {
        "kernel": kernel.version, "memory_mib": args.memory, "rescue_initrd_bytes": initrd_size,
        "busybox_kernel_to_shell_s": median(busybox, "kernel_to_shell_s"),
        "busybox_uptime_at_init_shell_s": median(busybox, "uptime_at_init_shell_s"),
        "rescue_kernel_to_first_screen_s": median(rescued, "kernel_to_first_screen_s"),
        "rescue_qemu_start_to_first_screen_s": median(rescued, "qemu_start_to_first_screen_s"),
        "busybox_qemu_start_to_shell_s": median(busybox, "qemu_start_to_shell_s"),
        "memory_after_boot_mib": memory,
        "runs": {"busybox": busybox, "rescue": rescued},
    }
    result["ratio"] = (result["rescue_kernel_to_first_screen_s"]
                       / result["busybox_kernel_to_shell_s"])
    print(f"Boot under QEMU TCG ({kernel.version}, -m {args.memory}, rescue initrd "
          f"{initrd_size / 2**20:.1f} MiB), median of {args.repeat}:")
    print(f"  kernel start to busybox shell:           "
          f"{result['busybox_kernel_to_shell_s']:6.2f} s "
          f"(its init's uptime: {result['busybox_uptime_at_init_shell_s']:.2f} s)")
    print(f"  kernel start to the console's first screen: "
          f"{result['rescue_kernel_to_first_screen_s']:6.2f} s")
    print(f"  ratio rescue / busybox: {result['ratio']:.1f}")
    print(f"  QEMU start to shell / to first screen: {result['busybox_qemu_start_to_shell_s']:.1f}"
          f" s / {result['rescue_qemu_start_to_first_screen_s']:.1f} s")
    print(f"  memory after boot (free -m, expert mode): total {memory['total']} MiB, "
          f"used {memory['used']}, shared (the initramfs) {memory['shared']}, "
          f"buff/cache {memory['buff_cache']}, available {memory['available']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
