#!/usr/bin/env python3
"""The rescue initramfs's size against its goal (<= 30 MiB compressed, issue 14).

    .venv/bin/python bench/rescue_size.py [--to DIR]

Builds the rescue system with `restore-console mkrescue` (in a temporary directory unless --to
is given) and prints the compressed size of initrd.img as a ratio of the goal (below 1.0: within
it), with the uncompressed size and the build time beside it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from console.core.rescue.build import SIZE_GOAL, build_rescue  # noqa: E402

MIB = 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to", help="build here (kept) instead of a temporary directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rescue-") as temporary:
        rescue = build_rescue(args.to or temporary)
    ratio = rescue.initramfs_size / SIZE_GOAL
    print(f"rescue initramfs: {rescue.initramfs_size / MIB:.1f} MiB compressed "
          f"({rescue.uncompressed / MIB:.1f} MiB unpacked), kernel {rescue.kernel_version}, "
          f"built in {rescue.seconds:.0f} s")
    print(f"ratio to the goal of {SIZE_GOAL / MIB:.0f} MiB: {ratio:.2f} "
          f"({'within' if ratio <= 1 else 'OVER'} the goal)")
    return 0 if ratio <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
