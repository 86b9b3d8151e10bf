#!/usr/bin/env python3
"""restore-console benchmark of a whole restore from a tape image against the same restore from a
set directory, in the same run.

    sudo .venv/bin/python bench/tape.py [--scale 0.3] [--repeat 3] [--workdir DIR] [--json FILE]

The source image is bench/run.py's (gentree.py at --scale, cached in --workdir, default
/var/tmp/restore-console-bench-tape). It is backed up twice, untimed: `backup --to SET` and
`backup --tape SET.tap`. Then `restore SET.tap --map SRC=TARGET --yes` (the pieces streamed from
the .tap in records of 256 KiB, one pass forward) and `restore SET --map ... --yes` (the
archive read as a file, its frames decompressed ahead on all cores) take turns after one
warm-up each, as bench/run.py schedules them; the medians count. The ratio is the directory's
time / the tape's (above 1: the tape is faster). Goal: at least 0.9.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("bench_run", os.path.join(HERE, "run.py"))
bench_run = importlib.util.module_from_spec(_spec)
sys.modules["bench_run"] = bench_run  # its dataclasses look their module up
_spec.loader.exec_module(bench_run)

GOAL = 0.9
bench_run.GOALS["tape"] = GOAL


class TapeBench(bench_run.Bench):
    def tape_backup(self, tap: str) -> None:
        bench_run.rm(tap)
        r, _, stdout, stderr = bench_run.run([self.cli, "backup", "--disk", self.image,
                                              "--tape", tap])
        self.keep_log("ours-backup-tape", stdout, stderr)

    def main(self) -> int:
        self.disks.probe()
        self.source_image()
        setdir = os.path.join(self.workdir, "set")
        tap = os.path.join(self.workdir, "set.tap")
        bench_run.say("making the set in a directory and on a .tap (untimed)")
        self.ours_backup(setdir)
        self.tape_backup(tap)
        info = json.loads(bench_run.run([self.cli, "inspect", tap, "--json"])[2])
        src_name = info["disks"][0]["name"]
        target = os.path.join(self.workdir, "target.img")
        checked = set()

        def restore(where: str, who: str):
            def one(warm: bool):
                result = self.ours_restore(where, src_name, target)
                if warm and who not in checked:
                    self.check_restored(target, who)
                    checked.add(who)
                return result
            return one

        res = self.alternate("tape", restore(tap, "tape"), restore(setdir, "directory"))
        res["tape"], res["directory"] = res.pop("ours"), res.pop("baseline")
        nbytes = self.source["tree"]["bytes"]
        for who in ("tape", "directory"):
            res[who]["throughput_mib_s"] = round(nbytes / bench_run.MiB
                                                 / res[who]["median_seconds"], 1)
        res["tap_bytes"] = os.path.getsize(tap)
        self.results["tape"] = res
        bench_run.rm(target)
        print(f"whole restore from a .tap: {res['tape']['median_seconds']:.2f} s "
              f"({res['tape']['throughput_mib_s']} MiB/s), from a directory: "
              f"{res['directory']['median_seconds']:.2f} s "
              f"({res['directory']['throughput_mib_s']} MiB/s); ratio {res['ratio']:.3f} "
              f"(goal {GOAL}): {'PASS' if res['pass'] else 'MISS'}")
        if self.args.json:
            with open(self.args.json, "w") as f:
                json.dump(self.results, f, indent=1)
        return 0 if res["pass"] or not self.args.strict else 3


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=0.3, help="size of the tree; 1.0 = ~1 GiB")
    p.add_argument("--repeat", type=int, default=3, help="measured runs of each side")
    p.add_argument("--workdir", default="/var/tmp/restore-console-bench-tape")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--cli", help="the restore-console to measure (default: next to this python)")
    p.add_argument("--strict", action="store_true", help="exit 3 when the goal is not met")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("bench/tape.py needs root (loop devices, mounts)", file=sys.stderr)
        return 2
    for tool in ("sfdisk", "losetup", "partx", "mkfs.ext4", "blkid", "mount", "umount"):
        if shutil.which(tool) is None:
            print(f"bench/tape.py needs {tool}", file=sys.stderr)
            return 2
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, bench_run._interrupted)
    bench = TapeBench(args)
    try:
        return bench.main()
    except bench_run.BenchError as e:
        print(f"bench failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.disks.cleanup()


if __name__ == "__main__":
    sys.exit(main())
