#!/usr/bin/env python3
"""restore-console benchmark of a whole restore from ISO volumes against the same restore from a
set directory, in the same run.

    sudo .venv/bin/python bench/iso.py [--scale 0.3] [--repeat 3] [--volume-size 100M]
                                       [--workdir DIR] [--json FILE]

The source image is bench/run.py's (gentree.py at --scale, cached in --workdir, default
/var/tmp/restore-console-bench-iso). It is backed up twice, untimed: `backup --to SET` and
`backup --iso DISCS --volume-size 100M` (several volumes, the root archive cut across them).
Then `restore DISCS/...-1.iso --map SRC=TARGET --yes` (each piece read front to back from the
images at its extents, checked with BLAKE3 as it is read, the volumes taken in order) and
`restore SET --map ... --yes` (the archive read as a file, its frames decompressed ahead on all
cores) take turns after one warm-up each, as bench/run.py schedules them; the medians count.
The ratio is the directory's time / the ISO volumes' (above 1: the volumes are faster). Goal:
at least 0.9.
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
bench_run.GOALS["iso"] = GOAL


class IsoBench(bench_run.Bench):
    def iso_backup(self, discs: str) -> list[str]:
        shutil.rmtree(discs, ignore_errors=True)
        r, _, stdout, stderr = bench_run.run([self.cli, "backup", "--disk", self.image,
                                              "--iso", discs, "--volume-size",
                                              self.args.volume_size])
        self.keep_log("ours-backup-iso", stdout, stderr)
        return sorted((os.path.join(discs, n) for n in os.listdir(discs)),
                      key=lambda p: int(p.rsplit("-", 1)[1].split(".")[0]))

    def main(self) -> int:
        self.disks.probe()
        self.source_image()
        setdir = os.path.join(self.workdir, "set")
        discs = os.path.join(self.workdir, "discs")
        bench_run.say("making the set in a directory and as ISO volumes (untimed)")
        self.ours_backup(setdir)
        volumes = self.iso_backup(discs)
        first = volumes[0]
        info = json.loads(bench_run.run([self.cli, "inspect", first, "--json"])[2])
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

        res = self.alternate("iso", restore(first, "iso"), restore(setdir, "directory"))
        res["iso"], res["directory"] = res.pop("ours"), res.pop("baseline")
        nbytes = self.source["tree"]["bytes"]
        for who in ("iso", "directory"):
            res[who]["throughput_mib_s"] = round(nbytes / bench_run.MiB
                                                 / res[who]["median_seconds"], 1)
        res["volumes"] = len(volumes)
        res["iso_bytes"] = sum(os.path.getsize(v) for v in volumes)
        self.results["iso"] = res
        bench_run.rm(target)
        print(f"whole restore from {len(volumes)} ISO volumes: "
              f"{res['iso']['median_seconds']:.2f} s "
              f"({res['iso']['throughput_mib_s']} MiB/s), from a directory: "
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
    p.add_argument("--volume-size", default="100M", help="the size of each ISO volume")
    p.add_argument("--workdir", default="/var/tmp/restore-console-bench-iso")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--cli", help="the restore-console to measure (default: next to this python)")
    p.add_argument("--strict", action="store_true", help="exit 3 when the goal is not met")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("bench/iso.py needs root (loop devices, mounts)", file=sys.stderr)
        return 2
    for tool in ("sfdisk", "losetup", "partx", "mkfs.ext4", "blkid", "mount", "umount", "xorriso"):
        if shutil.which(tool) is None:
            print(f"bench/iso.py needs {tool}", file=sys.stderr)
            return 2
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, bench_run._interrupted)
    bench = IsoBench(args)
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
