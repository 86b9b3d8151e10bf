#!/usr/bin/env python3
"""restore-console benchmarks of partial restore: the file picker on a million entries, and one
file back from the end of a large archive against GNU tar.

Run from the repository, as root, one benchmark at a time on the machine:

    flock /tmp/restore-console-bench.lock .venv/bin/python bench/partial.py
          [--only picker|single] [--repeat 5] [--workdir DIR] [--json FILE]

Everything generated stays in --workdir (default /var/tmp/restore-console-bench-partial) and is
reused while it matches (a stamp records what made it):

- picker: a catalog of 1,000,000 entries (one directory of 100,000 files, the rest in 9,000
  directories two levels deep) written with the project's CatalogWriter. A child process opens
  it and shows the picker screen (Textual, headless, 120x40) and measures: open + first paint
  (catalog open to the tree's first drawn lines), opening the 100,000-entry directory (enter
  pressed to the tree redrawn), a search over all names (the picker's own search, a pattern
  that matches a handful of names), and its peak memory (ru_maxrss). Goals: 1.0 s, 0.3 s,
  0.5 s, 200 MiB; the ratio is goal / measured (> 1: within the goal).
- single: a source disk image built with bench/gentree.py at scale 2.1 (over 2 GiB in over
  200,000 files on ext4) and backed up with `restore-console backup`; then the regular file
  at the end of the archive is restored with `restore-console restore SET --only PATH --into
  DIR` against `zstd -dc fs-1.tar.zst | tar -x -C DIR ./PATH`, which has to read the whole
  archive. Both run --repeat times, alternately, after one warm-up each (page cache warm); the
  medians count. Goal: 0.5 s; the ratio is GNU tar's time / ours.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import resource
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
os.environ["PYTHONPATH"] = REPO + (os.pathsep + os.environ["PYTHONPATH"]
                                   if os.environ.get("PYTHONPATH") else "")

MiB = 1024 * 1024
GiB = 1024 * MiB
CATALOG_VERSION = "1"  # bump when the generated catalog changes
ENTRIES = 1_000_000
BIG_DIR = 100_000
SINGLE_SCALE = 2.1
GOALS = {"first_paint": 1.0, "expand": 0.3, "search": 0.5, "peak_mib": 200.0, "single": 0.5}
NEEDLE = "zebrafish"  # a few names hold it, so a search reads every name to find them


def say(msg: str) -> None:
    print(f"[bench-partial {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# The million-entry catalog

WORDS = ("alpha beta gamma delta config cache report notes backup index image photo invoice "
         "letter draft summary table module source build release archive mail thumb").split()
EXTS = ("txt", "conf", "log", "jpg", "pdf", "py", "c", "html", "json", "gz")


def generate_catalog(path: str) -> None:
    """ENTRIES members: /, /big with BIG_DIR files, /d0000../d0899 each with ten
    subdirectories of about 100 files; a few names hold NEEDLE."""
    from console.core.backupset.catalog import CatalogWriter
    from console.core.backupset.tarscan import Member

    rng = random.Random(7)
    members: list[Member] = []
    offset = 0
    mtime = 1_700_000_000 * 10**9

    def add(p: bytes, kind: str, size: int = 0) -> None:
        nonlocal offset
        digest = rng.randbytes(32) if kind == "file" else None
        members.append(Member(p, kind, size, 0o755 if kind == "dir" else 0o644, 0, 0,
                              mtime + rng.randrange(10**15), None, 0, 0, offset, 1024 + size,
                              digest))
        offset += 1024 + (size + 511) // 512 * 512

    add(b"/", "dir")
    add(b"/big", "dir")
    for i in range(BIG_DIR):
        add(b"/big/%s-%06d.%s" % (rng.choice(WORDS).encode(), i, rng.choice(EXTS).encode()),
            "file", rng.randrange(100_000))
    left = ENTRIES - len(members)
    top, sub = 900, 10
    per_dir = left // (top * sub) - 1  # minus the subdirectory itself
    count = 0
    for t in range(top):
        add(b"/d%04d" % t, "dir")
        for s in range(sub):
            parent = b"/d%04d/s%02d" % (t, s)
            add(parent, "dir")
            for f in range(per_dir):
                name = b"%s_%d.%s" % (rng.choice(WORDS).encode(), f, rng.choice(EXTS).encode())
                add(parent + b"/" + name, "file", rng.randrange(50_000))
                count += 1
    while len(members) < ENTRIES:
        add(b"/d%04d/s00/extra-%d.txt" % (top - 1, len(members)), "file", 10)
    for i, index in enumerate(sorted(rng.sample(range(2, len(members)), 5))):
        m = members[index]
        if m.kind == "file":
            parent = m.path.rpartition(b"/")[0]
            m.path = parent + b"/%s-%d.dat" % (NEEDLE.encode(), i)
    members.sort(key=lambda m: m.path.split(b"/"))  # tar --sort=name order
    offset = 0
    for m in members:
        m.offset = offset
        offset += m.length
    writer = CatalogWriter(path + ".tmp")
    writer.add(1, members, lambda o: o // (4 * MiB))
    writer.close()
    os.replace(path + ".tmp", path)


def catalog_path(workdir: str) -> str:
    directory = os.path.join(workdir, "catalog-1m")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "catalog.sqlite")
    stamp = os.path.join(directory, "stamp.json")
    want = {"version": CATALOG_VERSION, "entries": ENTRIES, "big": BIG_DIR}
    try:
        with open(stamp) as f:
            if json.load(f) == want and os.path.exists(path):
                return path
    except (OSError, ValueError):
        pass
    say(f"generating a catalog of {ENTRIES:,} entries in {path}")
    t0 = time.monotonic()
    generate_catalog(path)
    with open(stamp, "w") as f:
        json.dump(want, f)
    say(f"catalog generated in {time.monotonic() - t0:.0f} s, "
        f"{os.path.getsize(path) / MiB:.0f} MiB")
    return path


# --------------------------------------------------------------------------------------------
# The picker, measured in a child process (so its peak memory is its own)

def peak_mib() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss over
    from the parent through fork and exec, and the parent may have just built the catalog."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def picker_child(path: str) -> dict:
    t_import = time.perf_counter()
    from textual.app import App

    from console.core.backupset.catalog import Catalog
    from console.core.backupset.settree import SetTrees
    from console.core.backupset.manifest import BackupSet
    from console.core.layout import Archive, Filesystem
    from console.tui.screens.file_picker import FilePickerScreen
    from widgets.file_tree import FileTree, FileTreePanel
    imports = time.perf_counter() - t_import

    painted: list[float] = []
    original = FileTree.render_lines

    def render_lines(self, crop):
        strips = original(self, crop)
        painted.append(time.perf_counter())
        return strips

    FileTree.render_lines = render_lines
    result: dict = {"imports_seconds": round(imports, 3)}

    async def wait_for_paint(pilot, after: float) -> float:
        for _ in range(2000):
            if painted and painted[-1] > after:
                return painted[-1]
            await pilot.pause(0.001)
        raise RuntimeError("the tree was never drawn")

    class Bench(App):
        def __init__(self, trees):
            super().__init__()
            self.trees = trees

        def on_mount(self):
            self.push_screen(FilePickerScreen(self.trees, destination="/tmp/x"))

    async def scenario():
        t0 = time.perf_counter()
        catalog = Catalog(path)
        fs = Filesystem(id=1, disk="/dev/sda", partition=1, device="/dev/sda1", type="ext4",
                        mountpoint="/", archive=Archive("tar", [], 0))
        trees = SetTrees(BackupSet(path=os.path.dirname(path), set_id="bench", created="",
                                   host="bench", filesystems=[fs]), catalog)
        app = Bench(trees)
        async with app.run_test(size=(120, 40)) as pilot:
            first = await wait_for_paint(pilot, t0)
            result["first_paint"] = first - t0
            tree = app.screen.query_one(FileTree)
            tree.focus()
            await pilot.press("down")  # /big
            await pilot.pause()
            assert tree.cursor_row.entry.path == b"/big", tree.cursor_row
            t1 = time.perf_counter()
            await pilot.press("enter")
            done = await wait_for_paint(pilot, t1)
            result["expand"] = done - t1
            assert tree.model.height > BIG_DIR, tree.model.height
            await pilot.press("end")  # the last of the 100,000, and the directories after it
            await pilot.pause()
            panel = app.screen.query_one(FileTreePanel)
            tree.cursor = 0
            t2 = time.perf_counter()
            panel.run_search(NEEDLE)
            done = await wait_for_paint(pilot, t2)
            result["search"] = done - t2
            state = tree.model.search_state
            result["search_matches"] = len(state.matches)
            assert state.matches and NEEDLE.encode() in tree.cursor_row.entry.name
            t3 = time.perf_counter()
            catalog.search(1, "photo", limit=1000)
            result["search_core_common"] = time.perf_counter() - t3
            t4 = time.perf_counter()
            catalog.search(1, "no-such-name-anywhere")
            result["search_core_none"] = time.perf_counter() - t4

    asyncio.run(scenario())
    result["peak_mib"] = peak_mib()
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}


def bench_picker(args) -> dict:
    path = catalog_path(args.workdir)
    runs = []
    for i in range(args.repeat):
        proc = subprocess.run([sys.executable, __file__, "--child-picker", path],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"picker child failed:\n{proc.stderr[-3000:]}")
        runs.append(json.loads(proc.stdout))
        say(f"picker {i + 1}/{args.repeat}: {runs[-1]}")
    keys = ("first_paint", "expand", "search", "peak_mib", "imports_seconds",
            "search_core_common", "search_core_none")
    return {"runs": runs,
            **{k: statistics.median(r[k] for r in runs) for k in keys},
            "matches": runs[0]["search_matches"],
            "catalog_mib": round(os.path.getsize(path) / MiB, 1)}


# --------------------------------------------------------------------------------------------
# One file back from the end of a large archive

def _load_run_py():
    spec = importlib.util.spec_from_file_location("bench_run", os.path.join(HERE, "run.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


CLI = [sys.executable, "-m", "console"]


def single_set(args, runpy) -> tuple[str, dict]:
    """The source image (cached by run.py's own logic) and its set (cached by a stamp)."""
    ns = argparse.Namespace(workdir=args.workdir, scale=SINGLE_SCALE, repeat=1, cli=None,
                            only=None, json=None, strict=False)
    bench = runpy.Bench(ns)
    bench.disks.cleanup()
    bench.disks.probe()
    bench.source_image()
    setdir = os.path.join(bench.workdir, "set")
    stamp = os.path.join(bench.workdir, "set.json")
    want = {"source": bench.source.get("uuid"), "scale": SINGLE_SCALE}
    try:
        with open(stamp) as f:
            if json.load(f) == want and os.path.exists(os.path.join(setdir, "manifest.json")):
                return setdir, bench.source
    except (OSError, ValueError):
        pass
    runpy.rm(setdir)
    say("backing up the source image (untimed)")
    t0 = time.monotonic()
    runpy.run([*CLI, "--log", os.path.join(bench.workdir, "backup.log"), "backup", "--disk",
               bench.image, "--to", setdir])
    say(f"set written in {time.monotonic() - t0:.0f} s")
    with open(stamp, "w") as f:
        json.dump(want, f)
    bench.disks.cleanup()
    return setdir, bench.source


def last_file(setdir: str) -> tuple[str, int, int]:
    """(path, size, offset) of the regular file that starts last in the archive."""
    db = sqlite3.connect(f"file:{os.path.join(setdir, 'catalog.sqlite')}?mode=ro", uri=True)
    path, size, offset = db.execute("SELECT path, size, offset FROM members WHERE kind = 'file' "
                                    "AND size > 0 ORDER BY offset DESC LIMIT 1").fetchone()
    db.close()
    return os.fsdecode(path), size, offset


def bench_single(args) -> dict:
    runpy = _load_run_py()
    setdir, source = single_set(args, runpy)
    with open(os.path.join(setdir, "manifest.json")) as f:
        manifest = json.load(f)
    fs = next(fs for fs in manifest["filesystems"] if fs.get("archive")
              and fs["archive"]["kind"] == "tar")
    archive = os.path.join(setdir, fs["archive"]["pieces"][0]["file"])
    path, size, offset = last_file(setdir)
    total = fs["archive"]["uncompressed_size"]
    say(f"the file: {path} ({size} bytes at {offset / GiB:.2f} GiB of {total / GiB:.2f} GiB)")
    out = os.path.join(args.workdir, "single-out")
    log = os.path.join(args.workdir, "single.log")

    def ours() -> float:
        runpy.rm(out)
        os.sync()
        r, _, stdout, _ = runpy.run([*CLI, "--log", log, "restore", setdir, "--only", path,
                                     "--into", out])
        ours.stdout = stdout
        return r.seconds

    def gnu_tar() -> float:
        runpy.rm(out)
        os.makedirs(out)
        os.sync()
        cmd = (f"zstd -dc {shlex.quote(archive)} | tar -x --numeric-owner -C {shlex.quote(out)} "
               f"{shlex.quote('.' + path)}")
        return runpy.run(cmd, shell=True)[0].seconds

    def restored() -> bytes:
        with open(os.path.join(out, path.lstrip("/")), "rb") as f:
            return f.read()

    ours()
    mine = restored()
    gnu_tar()
    if restored() != mine or len(mine) != size:
        raise SystemExit("the restored file differs between restore-console and GNU tar")
    say(f"warm-up done, both restored the same {size} bytes; {ours.stdout.strip()}")
    times = {"ours": [], "tar": []}
    for i in range(args.repeat):
        order = [("ours", ours), ("tar", gnu_tar)]
        if i % 2:
            order.reverse()
        for who, fn in order:
            times[who].append(fn())
        say(f"single {i + 1}/{args.repeat}: ours {times['ours'][-1]:.3f} s, "
            f"GNU tar {times['tar'][-1]:.3f} s")
    runpy.rm(out)
    return {"path": path, "size": size, "offset": offset, "archive_bytes": total,
            "archive_gib": round(total / GiB, 2),
            "files": source["tree"]["files"], "tree_gib": round(source["tree"]["bytes"] / GiB, 2),
            "ours": statistics.median(times["ours"]), "tar": statistics.median(times["tar"]),
            "runs": times, "summary": ours.stdout.strip()}


# --------------------------------------------------------------------------------------------

def report(results: dict) -> None:
    rows = [("measure", "restore-console", "baseline", "ratio", "goal", "result")]

    def add(name, value, unit, goal, baseline=None):
        shown = f"{value:.3f} {unit}" if unit == "s" else f"{value:.0f} {unit}"
        if baseline is None:
            ratio = goal / value if value else float("inf")
            base = f"goal {goal:g} {unit}"
        else:
            ratio = baseline / value
            base = f"{baseline:.3f} {unit} (GNU tar)"
        rows.append((name, shown, base, f"{ratio:.2f}", f"<= {goal:g} {unit}",
                     "PASS" if value <= goal else "BELOW"))

    picker = results.get("picker")
    if picker:
        add("picker: open + first paint", picker["first_paint"], "s", GOALS["first_paint"])
        add("picker: open a 100,000-entry directory", picker["expand"], "s", GOALS["expand"])
        add(f"picker: search all names ({picker['matches']} hits)", picker["search"], "s",
            GOALS["search"])
        add("picker: peak memory", picker["peak_mib"], "MiB", GOALS["peak_mib"])
    single = results.get("single")
    if single:
        add("one file from the end of the archive", single["ours"], "s", GOALS["single"],
            baseline=single["tar"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print()
    print("restore-console partial-restore benchmark: medians; ratio > 1 is better than the "
          "goal (picker) or faster than GNU tar (one file)")
    for n, r in enumerate(rows):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    if picker:
        print(f"picker: {ENTRIES:,} entries, catalog {picker['catalog_mib']} MiB; imports "
              f"(textual and the project, before the clock starts) {picker['imports_seconds']:.2f} s; "
              f"catalog search alone: common word {picker['search_core_common']:.3f} s, "
              f"no match {picker['search_core_none']:.3f} s")
    if single:
        print(f"one file: {single['path']} ({single['size']:,} bytes) at "
              f"{single['offset'] / GiB:.2f} of {single['archive_gib']} GiB of tar stream; tree "
              f"{single['tree_gib']} GiB in {single['files']:,} files; {single['summary']}")
    print(f"load average: {os.getloadavg()[0]:.2f}")


def main(argv=None) -> int:
    if argv is None and len(sys.argv) == 3 and sys.argv[1] == "--child-picker":
        print(json.dumps(picker_child(sys.argv[2])))
        return 0
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=("picker", "single"))
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--workdir", default="/var/tmp/restore-console-bench-partial")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    args.workdir = os.path.realpath(args.workdir)
    os.makedirs(args.workdir, exist_ok=True)
    results: dict = {"load_before": os.getloadavg()}
    if args.only in (None, "picker"):
        results["picker"] = bench_picker(args)
    if args.only in (None, "single"):
        if os.geteuid() != 0:
            print("the single-file benchmark needs root (loop devices, mounts)", file=sys.stderr)
            return 2
        for tool in ("zstd", "tar", "sfdisk", "losetup", "mkfs.ext4"):
            if shutil.which(tool) is None:
                print(f"bench/partial.py needs {tool}", file=sys.stderr)
                return 2
        results["single"] = bench_single(args)
    report(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
