#!/usr/bin/env python3
"""The baseline of the rescue system's boot: the Debian kernel to a busybox shell on the serial
console, under QEMU TCG (no KVM), as the e2e tests boot it.

    .venv/bin/python bench/boot.py [--repeat 3] [--memory 768] [--json FILE]

Two figures per boot: the guest's own clock (/proc/uptime) when its init starts the shell, i.e.
from the kernel's start; and the wall time from starting QEMU to the shell's prompt on the
serial line (firmware, loading kernel and initrd, and the harness included). The median counts.
The rescue system's time to the console's first screen is to be reported against this one.
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
from tests.e2e.vm import Machine  # noqa: E402

READY = re.compile(r"e2e: ready, ([0-9.]+) s after the kernel started")
PROMPT = "# "


def boot_once(kernel: Kernel, initrd: Path, workdir: Path, memory: int) -> tuple[float, float]:
    """(seconds from the kernel's start, wall seconds from QEMU's start) to the shell."""
    started = time.perf_counter()
    with Machine(workdir=workdir, kernel=kernel.vmlinuz, initrd=initrd,
                 memory_mib=memory).running() as vm:
        kernel_seconds = float(vm.console.wait_for(READY, timeout=300).group(1))
        vm.console.wait_for(PROMPT, timeout=60)
        return kernel_seconds, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory", type=int, default=768, help="MiB (default 768)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if reason := missing_for_e2e():
        print(f"bench/boot.py {reason}", file=sys.stderr)
        return 2
    kernel = Kernel.installed()
    with tempfile.TemporaryDirectory(prefix="bench-boot-") as work:
        initrd = build_initramfs(Path(work) / "shell.cpio", kernel=kernel)
        runs = [boot_once(kernel, initrd, Path(work) / f"run{n}", args.memory)
                for n in range(args.repeat)]
        size = initrd.stat().st_size
    kernel_times, wall_times = zip(*runs)
    result = {
        "kernel": kernel.version, "memory_mib": args.memory, "initrd_bytes": size,
        "kernel_to_shell_s": statistics.median(kernel_times),
        "qemu_start_to_prompt_s": statistics.median(wall_times),
        "runs": [{"kernel_to_shell_s": k, "qemu_start_to_prompt_s": w} for k, w in runs],
    }
    print(f"busybox shell under QEMU TCG ({kernel.version}, -m {args.memory}, initrd "
          f"{size / 2**20:.1f} MiB), median of {args.repeat}:")
    print(f"  kernel start to shell:     {result['kernel_to_shell_s']:6.2f} s")
    print(f"  QEMU start to shell prompt:{result['qemu_start_to_prompt_s']:6.2f} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
