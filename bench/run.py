#!/usr/bin/env python3
"""restore-console benchmarks: backup and full restore, as ratios against GNU tar + zstd.

Run as root with the project's python (the `restore-console` next to it is the CLI measured):

    sudo .venv/bin/python bench/run.py [--scale 1.0] [--repeat 3] [--workdir DIR]
                                       [--only backup|restore] [--json FILE]

What it does (see bench/README.md):

- builds once, and reuses while it matches, a source disk image: a sparse file (2.5 GiB at scale
  1), GPT, one ext4 partition holding the tree of bench/gentree.py (about 1 GiB, 100,000 files);
- backup: `restore-console backup --disk IMAGE --to SET` against attach + mount read-only +
  `tar --format=posix --xattrs --acls --numeric-owner --sparse -cf - | zstd -T0 -3` + unmount
  + detach;
- restore: `restore-console restore SET --map SRC=TARGET --yes` into a fresh image of the same
  size against sfdisk (the source's table) + attach + mkfs.ext4 + mount +
  `zstd -dc ARCHIVE | tar -xpf - --xattrs --acls --numeric-owner` + unmount + detach, where
  ARCHIVE is the set's own fs archive;
- each side once as a warm-up, then --repeat times alternately; the median wall time counts;
- peak memory: ru_maxrss of the measured child processes (for a pipeline, of the `bash -c` that
  runs it, which covers its waited-for children).

Ratios are >1 when restore-console is faster. Everything it attaches or mounts is undone on exit,
also on failure and Ctrl-C.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shlex
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
GENTREE = os.path.join(HERE, "gentree.py")
MiB = 1024 * 1024
GiB = 1024 * MiB
IMAGE_SIZE_SCALE1 = int(2.5 * GiB)
IMAGE_SIZE_MIN = 192 * MiB
SEED = 1
GOALS = {"backup": 0.90, "restore": 0.95}

TAR_CREATE = "tar --format=posix --xattrs --acls --numeric-owner --sparse -cf - -C {src} ."
TAR_EXTRACT = "tar -xpf - --xattrs --xattrs-include='*' --acls --numeric-owner -C {dst}"


class BenchError(Exception):
    pass


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Running commands: wall time and peak memory of the child

@dataclass
class Run:
    seconds: float = 0.0
    maxrss_kib: int = 0  # the largest ru_maxrss among the children this step waited for
    log: list[str] = field(default_factory=list)

    def add(self, other: "Run") -> None:
        self.seconds += other.seconds
        self.maxrss_kib = max(self.maxrss_kib, other.maxrss_kib)
        self.log.extend(other.log)


_current_child: subprocess.Popen | None = None


def run(cmd, *, shell: bool = False, check: bool = True, input_text: str | None = None,
        quiet_output: bool = True) -> tuple[Run, int, str, str]:
    """Runs cmd (a list, or a bash script when shell=True); returns (Run, rc, stdout, stderr).

    The child is reaped with os.wait4 so its rusage (ru_maxrss, KiB, the maximum over it and its
    waited-for descendants) is available.
    """
    global _current_child
    argv = ["bash", "-c", "set -o pipefail; " + cmd] if shell else list(cmd)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
                                stdout=out if quiet_output else None, stderr=err)
        _current_child = proc
        try:
            if input_text is not None:
                proc.stdin.write(input_text.encode())
                proc.stdin.close()
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            _stop_child(proc)
            raise
        finally:
            _current_child = None
        seconds = time.perf_counter() - t0
        rc = os.waitstatus_to_exitcode(status)
        proc.returncode = rc
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    shown = cmd if shell else " ".join(shlex.quote(c) for c in cmd)
    if check and rc != 0:
        tail = "\n".join((stderr.strip() or stdout.strip()).splitlines()[-25:])
        raise BenchError(f"command failed (exit {rc}): {shown}\n{tail}")
    return Run(seconds, usage.ru_maxrss, [shown]), rc, stdout, stderr


def _stop_child(proc: subprocess.Popen) -> None:
    """After Ctrl-C: the child got SIGINT too; give it time to clean up, then kill it."""
    for sig, wait in ((None, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        if sig is not None:
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(proc.pid, os.WNOHANG)
            except ChildProcessError:
                return
            if pid:
                return
            time.sleep(0.1)


def out(cmd) -> str:
    return run(cmd)[2]


# --------------------------------------------------------------------------------------------
# Loop devices and mounts: everything we (or the CLI under test) attach is backed by a file in
# the work directory, so cleanup undoes exactly that and nothing else.

class Disks:
    def __init__(self, workdir: str):
        self.workdir = os.path.realpath(workdir)
        self.method = None  # "partscan" | "partx" | "offset"

    def probe(self) -> None:
        """How this kernel gives partitions of a loop device: by itself, via partx, or not."""
        img = os.path.join(self.workdir, "probe.img")
        with open(img, "wb") as f:
            f.truncate(8 * MiB)
        run(["sfdisk", "-q", img], input_text="label: gpt\nstart=2048, type=L\n")
        try:
            loop = out(["losetup", "-f", "--show", "-P", img]).strip()
            try:
                if _wait_nodes([loop + "p1"], 0.5):
                    self.method = "partscan"
                else:
                    run(["partx", "-a", loop], check=False)
                    self.method = "partx" if _wait_nodes([loop + "p1"], 2) else "offset"
            finally:
                run(["losetup", "-d", loop], check=False)
        finally:
            os.unlink(img)
        say(f"loop partitions on this kernel: {self.method}")

    def attach(self, image: str, read_only: bool) -> tuple[Run, list[str], list[str]]:
        """Attaches image, returns (Run, loop devices to detach, partition devices)."""
        ro = ["-r"] if read_only else []
        total = Run()
        if self.method == "offset":
            r, _, js, _ = run(["sfdisk", "--json", image])
            total.add(r)
            table = json.loads(js)["partitiontable"]
            sector = table.get("sectorsize", 512)
            loops = []
            for p in table["partitions"]:
                r, _, dev, _ = run(["losetup", "-f", "--show", *ro, "--offset", str(p["start"] * sector),
                                    "--sizelimit", str(p["size"] * sector), image])
                total.add(r)
                loops.append(dev.strip())
            return total, loops, list(loops)
        r, _, dev, _ = run(["losetup", "-f", "--show", "-P", *ro, image])
        total.add(r)
        loop = dev.strip()
        if self.method == "partx":
            r, _, _, _ = run(["partx", "-a", loop], check=False)
            total.add(r)
        t0 = time.perf_counter()
        parts = sorted(glob.glob(f"/sys/block/{os.path.basename(loop)}/{os.path.basename(loop)}p*"))
        nodes = ["/dev/" + os.path.basename(p) for p in parts]
        if not nodes or not _wait_nodes(nodes, 5):
            run(["losetup", "-d", loop], check=False)
            raise BenchError(f"no partition devices appeared for {image} on {loop}")
        total.seconds += time.perf_counter() - t0
        return total, [loop], nodes

    def detach(self, loops: list[str]) -> Run:
        total = Run()
        for loop in reversed(loops):
            for attempt in range(20):
                r, rc, _, _ = run(["losetup", "-d", loop], check=False)
                total.add(r)
                if rc == 0:
                    break
                time.sleep(0.1)
        return total

    def ours(self) -> list[str]:
        """Loop devices backed by a file in the work directory."""
        try:
            data = json.loads(out(["losetup", "-J", "-l"]) or '{"loopdevices": []}')
        except BenchError:
            return []
        devs = []
        for d in data.get("loopdevices", []):
            back = (d.get("back-file") or "").removesuffix(" (deleted)")
            if back == self.workdir or back.startswith(self.workdir + "/"):
                devs.append(d["name"])
        return devs

    def cleanup(self) -> None:
        loops = self.ours()
        names = set()
        for loop in loops:
            base = os.path.basename(loop)
            names.add(loop)
            names.update("/dev/" + os.path.basename(p) for p in glob.glob(f"/sys/block/{base}/{base}p*"))
        for mnt in reversed(_mounts()):
            target, source = mnt
            if source in names or target == self.workdir or target.startswith(self.workdir + "/"):
                say(f"cleanup: unmounting {target} ({source})")
                if run(["umount", target], check=False)[1] != 0:
                    run(["umount", "-l", target], check=False)
        for loop in reversed(loops):
            say(f"cleanup: detaching {loop}")
            self.detach([loop])


def _wait_nodes(paths: list[str], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not all(os.path.exists(p) for p in paths):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _mounts() -> list[tuple[str, str]]:
    res = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            unesc = lambda s: s.encode().decode("unicode_escape")  # noqa: E731 (octal escapes)
            res.append((unesc(fields[4]), unesc(fields[sep + 2])))
    return res


def mount(dev: str, where: str, options: str = "") -> Run:
    os.makedirs(where, exist_ok=True)
    cmd = ["mount", "-t", "ext4"] + (["-o", options] if options else []) + [dev, where]
    return run(cmd)[0]


def umount(where: str) -> Run:
    total = Run()
    for attempt in range(10):
        r, rc, _, _ = run(["umount", where], check=False)
        total.add(r)
        if rc == 0:
            return total
        time.sleep(0.2)
    raise BenchError(f"could not unmount {where}")


def make_sparse(path: str, size: int) -> None:
    if os.path.exists(path):
        os.unlink(path)
    with open(path, "wb") as f:
        f.truncate(size)


def rm(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def tree_stats(root: str) -> dict:
    """Regular-file bytes (each inode once), counts of files, directories, symlinks."""
    seen = set()
    stats = {"bytes": 0, "files": 0, "dirs": 0, "symlinks": 0}
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == root and "lost+found" in dirnames:
            dirnames.remove("lost+found")
        stats["dirs"] += len(dirnames)
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISLNK(st.st_mode):
                stats["symlinks"] += 1
            elif stat.S_ISREG(st.st_mode):
                stats["files"] += 1
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    stats["bytes"] += st.st_size
    return stats


# --------------------------------------------------------------------------------------------
# The benchmark

class Bench:
    def __init__(self, args):
        self.args = args
        self.workdir = os.path.realpath(args.workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.disks = Disks(self.workdir)
        self.cli = args.cli or os.path.join(os.path.dirname(sys.executable), "restore-console")
        self.image = os.path.join(self.workdir, "source.img")
        self.stamp_path = os.path.join(self.workdir, "source.json")
        self.source: dict = {}
        self.results: dict = {"scale": args.scale, "repeat": args.repeat, "load_before": os.getloadavg()}
        self.logdir = os.path.join(self.workdir, "logs")
        os.makedirs(self.logdir, exist_ok=True)

    # ---- the source image ----

    def wanted_stamp(self) -> dict:
        with open(GENTREE, "rb") as f:
            gen = hashlib.sha256(f.read()).hexdigest()[:16]
        size = max(IMAGE_SIZE_MIN, int(IMAGE_SIZE_SCALE1 * self.args.scale)) // MiB * MiB
        return {"scale": self.args.scale, "seed": SEED, "gentree": gen, "image_size": size}

    def source_image(self) -> None:
        want = self.wanted_stamp()
        try:
            with open(self.stamp_path) as f:
                have = json.load(f)
            if {k: have.get(k) for k in want} == want and os.path.getsize(self.image) == want["image_size"]:
                self.source = have
                say(f"reusing {self.image}: {have['tree']['bytes'] / MiB:.0f} MiB in "
                    f"{have['tree']['files']} files")
                return
        except (OSError, ValueError, KeyError):
            pass
        rm(self.stamp_path)
        say(f"building {self.image} ({want['image_size'] / GiB:.2f} GiB, scale {self.args.scale})")
        make_sparse(self.image, want["image_size"])
        run(["sfdisk", "-q", self.image],
            input_text="label: gpt\nstart=2048, type=L, name=bench-root\n")
        mnt = os.path.join(self.workdir, "mnt-build")
        _, loops, parts = self.disks.attach(self.image, read_only=False)
        try:
            run(["mkfs.ext4", "-q", "-L", "benchroot", parts[0]])
            mount(parts[0], mnt)
            try:
                t0 = time.monotonic()
                run([sys.executable, GENTREE, mnt, "--scale", str(self.args.scale), "--seed", str(SEED)],
                    quiet_output=False)
                say(f"tree generated in {time.monotonic() - t0:.1f} s")
                tree = tree_stats(mnt)
                df = os.statvfs(mnt)
                used = (df.f_blocks - df.f_bfree) * df.f_frsize
            finally:
                umount(mnt)
            uuid = out(["blkid", "-o", "value", "-s", "UUID", parts[0]]).strip()
        finally:
            self.disks.detach(loops)
        table = out(["sfdisk", "--dump", self.image])
        self.source = dict(want, tree=tree, fs_used=used, uuid=uuid, label="benchroot", table=table)
        with open(self.stamp_path + ".tmp", "w") as f:
            json.dump(self.source, f, indent=1)
        os.replace(self.stamp_path + ".tmp", self.stamp_path)
        say(f"source ready: {tree['bytes'] / MiB:.0f} MiB in {tree['files']} files, "
            f"{tree['dirs']} directories, {tree['symlinks']} symlinks; fs uses {used / MiB:.0f} MiB")

    # ---- the measured operations ----

    def ours_backup(self, setdir: str) -> Run:
        rm(setdir)
        os.makedirs(setdir)
        self.settle()
        r, _, stdout, stderr = run([self.cli, "backup", "--disk", self.image, "--to", setdir])
        self.keep_log("ours-backup", stdout, stderr)
        return r

    def base_backup(self, archive: str) -> Run:
        rm(archive)
        mnt = os.path.join(self.workdir, "mnt-base")
        os.makedirs(mnt, exist_ok=True)
        self.settle()
        total = Run()
        r, loops, parts = self.disks.attach(self.image, read_only=True)
        total.add(r)
        try:
            total.add(mount(parts[0], mnt, "ro"))
            try:
                cmd = (TAR_CREATE.format(src=shlex.quote(mnt)) +
                       f" | zstd -T0 -3 -q -f -o {shlex.quote(archive)}")
                total.add(run(cmd, shell=True)[0])
            finally:
                total.add(umount(mnt))
        finally:
            total.add(self.disks.detach(loops))
        return total

    def ours_restore(self, setdir: str, src_name: str, target: str) -> Run:
        make_sparse(target, self.source["image_size"])
        self.settle()
        r, _, stdout, stderr = run([self.cli, "restore", setdir, "--map", f"{src_name}={target}", "--yes"])
        self.keep_log("ours-restore", stdout, stderr)
        return r

    def base_restore(self, archive_pieces: list[str], target: str) -> Run:
        make_sparse(target, self.source["image_size"])
        mnt = os.path.join(self.workdir, "mnt-base")
        os.makedirs(mnt, exist_ok=True)
        self.settle()
        total = Run()
        total.add(run(["sfdisk", "-q", target], input_text=self.source["table"])[0])
        r, loops, parts = self.disks.attach(target, read_only=False)
        total.add(r)
        try:
            total.add(run(["mkfs.ext4", "-q", "-U", self.source["uuid"], "-L", self.source["label"],
                           parts[0]])[0])
            total.add(mount(parts[0], mnt))
            try:
                src = ("zstd -dc " + shlex.quote(archive_pieces[0]) if len(archive_pieces) == 1 else
                       "cat " + " ".join(map(shlex.quote, archive_pieces)) + " | zstd -dc")
                total.add(run(f"{src} | " + TAR_EXTRACT.format(dst=shlex.quote(mnt)), shell=True)[0])
            finally:
                total.add(umount(mnt))
        finally:
            total.add(self.disks.detach(loops))
        return total

    def settle(self) -> None:
        """Untimed: write back what the previous run left dirty, so it does not bill this one."""
        os.sync()

    def keep_log(self, name: str, stdout: str, stderr: str) -> None:
        with open(os.path.join(self.logdir, name + ".log"), "w") as f:
            f.write(stdout + "\n--- stderr ---\n" + stderr)

    def check_restored(self, target: str, who: str) -> None:
        """Untimed sanity check after a warm-up restore: the tree is all there."""
        mnt = os.path.join(self.workdir, "mnt-check")
        _, loops, parts = self.disks.attach(target, read_only=True)
        try:
            mount(parts[0], mnt, "ro")
            try:
                got = tree_stats(mnt)
            finally:
                umount(mnt)
        finally:
            self.disks.detach(loops)
        want = self.source["tree"]
        if got != want:
            raise BenchError(f"{who} restore is incomplete: got {got}, want {want}")
        say(f"{who} restore checked: {got['files']} files, {got['bytes'] / MiB:.0f} MiB")

    # ---- the schedule ----

    def alternate(self, name: str, ours, base) -> dict:
        say(f"{name}: warm-up")
        runs = {"ours": [], "baseline": []}
        warm = {"ours": ours(True), "baseline": base(True)}
        say(f"{name}: warm-up ours {warm['ours'].seconds:.2f} s, baseline {warm['baseline'].seconds:.2f} s")
        for i in range(self.args.repeat):
            order = [("ours", ours), ("baseline", base)]
            if i % 2:
                order.reverse()
            for who, fn in order:
                r = fn(False)
                runs[who].append(r)
                say(f"{name} {i + 1}/{self.args.repeat} {who}: {r.seconds:.2f} s, "
                    f"peak {r.maxrss_kib / 1024:.0f} MiB")
        res = {}
        for who in runs:
            res[who] = {"seconds": [round(r.seconds, 3) for r in runs[who]],
                        "median_seconds": round(statistics.median(r.seconds for r in runs[who]), 3),
                        "peak_rss_mib": round(max([r.maxrss_kib for r in runs[who]] +
                                                  [warm[who].maxrss_kib]) / 1024, 1),
                        "warmup_seconds": round(warm[who].seconds, 3)}
        res["ratio"] = round(res["baseline"]["median_seconds"] / res["ours"]["median_seconds"], 3)
        res["goal"] = GOALS[name]
        res["pass"] = res["ratio"] >= GOALS[name]
        return res

    def bench_backup(self) -> str:
        setdir = os.path.join(self.workdir, "set")
        archive = os.path.join(self.workdir, "baseline.tar.zst")
        res = self.alternate("backup", lambda warm: self.ours_backup(setdir),
                             lambda warm: self.base_backup(archive))
        nbytes = self.source["tree"]["bytes"]
        for who in ("ours", "baseline"):
            res[who]["throughput_mib_s"] = round(nbytes / MiB / res[who]["median_seconds"], 1)
        res["ours"]["archive_bytes"] = sum(os.path.getsize(p) for p in self.archive_pieces(setdir))
        res["ours"]["set_bytes"] = sum(os.path.getsize(p) for p in glob.glob(os.path.join(setdir, "**"),
                                                                            recursive=True)
                                       if os.path.isfile(p))
        res["baseline"]["archive_bytes"] = os.path.getsize(archive)
        self.results["backup"] = res
        rm(archive)
        return setdir

    def archive_pieces(self, setdir: str) -> list[str]:
        """The pieces of the ext4 filesystem's tar archive, from the set's manifest."""
        with open(os.path.join(setdir, "manifest.json")) as f:
            manifest = json.load(f)
        found = []
        for fs in manifest.get("filesystems", []):
            if fs.get("type") == "ext4" and fs.get("archive"):
                for piece in fs["archive"].get("pieces", []):
                    found.append(os.path.join(setdir, piece["file"]))
        if not found or not all(os.path.isfile(p) for p in found):
            print(json.dumps(manifest, indent=1)[:4000], file=sys.stderr)
            raise BenchError(f"cannot find the ext4 archive pieces in {setdir}/manifest.json "
                             f"(found {found}); the manifest is printed above")
        return found

    def bench_restore(self, setdir: str | None) -> None:
        if setdir is None:
            setdir = os.path.join(self.workdir, "set")
            say("restore: making the set (untimed)")
            self.ours_backup(setdir)
        info = json.loads(run([self.cli, "inspect", setdir, "--json"])[2])
        src_name = info["disks"][0]["name"]
        pieces = self.archive_pieces(setdir)
        target = os.path.join(self.workdir, "target.img")

        def ours(warm):
            r = self.ours_restore(setdir, src_name, target)
            if warm:
                self.check_restored(target, "ours")
            return r

        def base(warm):
            r = self.base_restore(pieces, target)
            if warm:
                self.check_restored(target, "baseline")
            return r

        res = self.alternate("restore", ours, base)
        nbytes = self.source["tree"]["bytes"]
        for who in ("ours", "baseline"):
            res[who]["throughput_mib_s"] = round(nbytes / MiB / res[who]["median_seconds"], 1)
        self.results["restore"] = res
        rm(target)

    # ---- report ----

    def report(self) -> None:
        rows = [("name", "ours", "baseline", "ratio", "goal", "result")]
        for name in ("backup", "restore"):
            res = self.results.get(name)
            if not res:
                continue
            o, b = res["ours"], res["baseline"]
            rows.append((f"{name} throughput", f"{o['throughput_mib_s']:.1f} MiB/s",
                         f"{b['throughput_mib_s']:.1f} MiB/s", f"{res['ratio']:.2f}",
                         f">= {res['goal']:.2f}", "PASS" if res["pass"] else "BELOW"))
            rows.append((f"{name} time (median)", f"{o['median_seconds']:.2f} s",
                         f"{b['median_seconds']:.2f} s", "", "", ""))
            rows.append((f"{name} peak memory", f"{o['peak_rss_mib']:.0f} MiB",
                         f"{b['peak_rss_mib']:.0f} MiB",
                         f"{o['peak_rss_mib'] / b['peak_rss_mib']:.1f}x" if b["peak_rss_mib"] else "",
                         "", "info"))
            if name == "backup":
                rows.append(("backup archive size", f"{o['archive_bytes'] / MiB:.1f} MiB",
                             f"{b['archive_bytes'] / MiB:.1f} MiB",
                             f"{o['archive_bytes'] / b['archive_bytes']:.2f}x", "", "info"))
        tree = self.source["tree"]
        print()
        print(f"restore-console benchmark: tree {tree['bytes'] / MiB:.0f} MiB in {tree['files']} files, "
              f"{tree['dirs']} directories (scale {self.args.scale}); median of {self.args.repeat} "
              f"alternating runs after one warm-up each; ratio > 1 means restore-console is faster")
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for n, r in enumerate(rows):
            print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
            if n == 0:
                print("  ".join("-" * w for w in widths))
        print(f"load average before: {self.results['load_before'][0]:.2f}, after: {os.getloadavg()[0]:.2f}")

    def main(self) -> int:
        if not os.access(self.cli, os.X_OK):
            raise BenchError(f"{self.cli} not found; install the project (pip install -e .) or pass --cli")
        self.disks.cleanup()
        self.disks.probe()
        self.source_image()
        self.results["source"] = {k: v for k, v in self.source.items() if k != "table"}
        setdir = None
        if self.args.only in (None, "backup"):
            setdir = self.bench_backup()
        if self.args.only in (None, "restore"):
            self.bench_restore(setdir)
        self.report()
        if self.args.json:
            with open(self.args.json, "w") as f:
                json.dump(self.results, f, indent=1)
        ok = all(self.results[n]["pass"] for n in ("backup", "restore") if n in self.results)
        return 0 if ok or not self.args.strict else 3


def _interrupted(signum, frame):
    raise KeyboardInterrupt()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0, help="size of the tree; 1.0 = ~1 GiB, 100,000 files")
    p.add_argument("--repeat", type=int, default=3, help="measured runs of each side (after one warm-up)")
    p.add_argument("--workdir", default="/var/tmp/restore-console-bench",
                   help="images, sets and logs; the source image is cached here")
    p.add_argument("--only", choices=("backup", "restore"))
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--cli", help="the restore-console to measure (default: next to this python)")
    p.add_argument("--strict", action="store_true", help="exit 3 when a goal is not met")
    args = p.parse_args(argv)
    if args.scale <= 0 or args.repeat < 1:
        p.error("--scale must be > 0 and --repeat >= 1")
    if os.geteuid() != 0:
        print("bench/run.py needs root (loop devices, mounts)", file=sys.stderr)
        return 2
    for tool in ("sfdisk", "losetup", "partx", "mkfs.ext4", "blkid", "mount", "umount", "tar", "zstd", "bash"):
        if shutil.which(tool) is None:
            print(f"bench/run.py needs {tool}", file=sys.stderr)
            return 2
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with it ignored
    signal.signal(signal.SIGTERM, _interrupted)
    bench = Bench(args)
    try:
        return bench.main()
    except BenchError as e:
        print(f"bench failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.disks.cleanup()
        for d in glob.glob(os.path.join(bench.workdir, "mnt-*")):
            try:
                os.rmdir(d)
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(main())
