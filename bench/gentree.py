#!/usr/bin/env python3
"""Deterministic generator of the benchmark tree.

At --scale 1 it writes about 1 GiB:

- about 100,000 small files (0..16 KiB, skewed towards small), spread over about 2,000
  directories of depth 1 to 5; most of them text-like (compressible about 3x), some binary
  (incompressible); a few symlinks and hard links among them;
- about 300 MiB of compressible large files (log-like text, about 4x with zstd -3);
- about 300 MiB of incompressible large files (a SHAKE-128 stream: seeded, fast, random-looking).

The same --seed and --scale always give the same tree (names, contents, modes, mtimes), so a
cached disk image holding it stays valid. Standard library only.

    python3 bench/gentree.py DIR [--scale 1.0] [--seed 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time

MiB = 1024 * 1024

# What scale 1 means.
SMALL_FILES = 100_000
DIRECTORIES = 2_000
SMALL_MAX = 16 * 1024
# (relative path, bytes at scale 1)
LOG_FILES = [("var/log/app/access.log", 160 * MiB),
             ("var/log/app/access.log.1", 100 * MiB),
             ("var/log/syslog", 40 * MiB)]
BLOB_FILES = [("srv/blobs/disk.qcow2", 200 * MiB),
              ("srv/blobs/photos.tar.xz", 64 * MiB),
              ("srv/blobs/random.bin", 36 * MiB)]

TEXT_POOL = 32 * MiB   # larger than zstd -3's window, so small files do not repeat inside it
BLOB_POOL = 8 * MiB
LOG_POOL = 16 * MiB
LOG_SLICE = 64 * 1024
BASE_MTIME = 1_700_000_000  # 2023-11-14, all mtimes are within a year after it
EXTENSIONS = ["txt", "conf", "py", "c", "h", "html", "md", "json", "xml", "sh", "log", "csv"]
BINARY_EXTENSIONS = ["bin", "gz", "png", "jpg", "so"]


def shake_stream(seed: bytes, n: int, chunk: int = MiB):
    """n pseudo-random bytes, in chunks, from SHAKE-128(seed || counter)."""
    counter = 0
    while n > 0:
        k = min(chunk, n)
        yield hashlib.shake_128(seed + counter.to_bytes(8, "little")).digest(k)
        counter += 1
        n -= k


def make_vocabulary(rng: random.Random, n: int = 6000) -> list[str]:
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = [12, 9, 8, 7.5, 7, 6.7, 6.3, 6, 5.9, 4.3, 4, 2.8, 2.4, 2.4, 2.2, 2, 2, 1.9, 1.5,
               1.3, 1, 0.8, 0.15, 0.15, 0.1, 0.07]
    words = set()
    while len(words) < n:
        length = min(12, max(1, int(rng.expovariate(1 / 5)) + 1))
        words.add("".join(rng.choices(letters, weights, k=length)))
    return sorted(words)


def make_text_pool(rng: random.Random, size: int) -> bytes:
    """Word soup with a Zipf-like word frequency, punctuation and line breaks: compresses ~3x."""
    vocab = make_vocabulary(rng)
    rng.shuffle(vocab)
    # Expand the Zipf weights into a table once: unweighted choices from it are fast.
    table = []
    for rank, word in enumerate(vocab, 1):
        table.extend([word] * max(1, round(20000 / rank)))
    table.extend([w + ", " for w in vocab[:200]] + [w + ".\n" for w in vocab[:100]]
                 + [w + ".\n\n    " for w in vocab[:30]] + [w + "; " for w in vocab[:50]])
    n_words = size // 6 + 1
    text = " ".join(rng.choices(table, k=n_words)).encode()
    return text[:size]


def make_log_pool(rng: random.Random, size: int) -> bytes:
    levels = ["INFO"] * 6 + ["DEBUG"] * 3 + ["WARN", "ERROR"]
    methods = ["GET"] * 8 + ["POST", "PUT", "DELETE"]
    paths = ["/api/v1/items", "/api/v1/users", "/static/app.js", "/static/style.css", "/login",
             "/api/v2/search", "/healthz", "/api/v1/orders", "/metrics", "/favicon.ico"]
    agents = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/7.88.1", "python-requests/2.31.0",
              "Prometheus/2.45.0", "Go-http-client/1.1"]
    out = []
    n = 0
    ts = float(BASE_MTIME)
    ri = rng.randrange
    rr = rng.random
    while n < size:
        ts += rr() * 0.02
        status = 200 if ri(20) else rng.choice((301, 404, 500, 503))
        line = (f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(ts))}.{int(ts * 1e6) % 1000000:06d}Z "
                f"web{ri(8):02d} app[{ri(1000, 9999)}]: {levels[ri(len(levels))]} "
                f"req={ri(1 << 32):08x} {methods[ri(len(methods))]} {paths[ri(len(paths))]}/{ri(100000)} "
                f"status={status} bytes={ri(100000)} dur={ri(500)}ms ua=\"{agents[ri(len(agents))]}\"\n")
        out.append(line)
        n += len(line)
    return "".join(out).encode()[:size]


def line_slice(pool: bytes, rng: random.Random, length: int) -> bytes:
    start = pool.find(b"\n", rng.randrange(len(pool) - length - 1)) + 1
    return pool[start:start + length]


def write_file(path: str, data, mode: int, mtime: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        if isinstance(data, (bytes, bytearray, memoryview)):
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        else:
            for chunk in data:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    os.utime(path, ns=(mtime * 10**9, mtime * 10**9))


def generate(dest: str, scale: float = 1.0, seed: int = 1, quiet: bool = False) -> dict:
    t0 = time.monotonic()
    rng = random.Random(seed)
    seed_bytes = seed.to_bytes(8, "little")
    os.makedirs(dest, exist_ok=True)
    os.umask(0o022)

    def log(msg):
        if not quiet:
            print(f"[gentree {time.monotonic() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    text_pool = make_text_pool(rng, TEXT_POOL)
    blob_pool = b"".join(shake_stream(b"blob" + seed_bytes, BLOB_POOL))
    log_pool = make_log_pool(rng, LOG_POOL)
    log("pools ready")

    # Directories: a random tree, depth 1..5, deterministic names.
    n_dirs = max(1, round(DIRECTORIES * scale))
    dirs: list[tuple[str, int]] = []  # (relative path, depth)
    top = max(1, round(n_dirs ** 0.5 / 2))
    names = make_vocabulary(random.Random(seed + 7), 3000)
    for i in range(n_dirs):
        if i < top:
            parent, depth = "", 0
        else:
            candidates = dirs[: max(top, i)]
            parent, depth = rng.choice(candidates)
            if depth >= 5:
                parent, depth = rng.choice(dirs[:top])
        rel = os.path.join(parent, f"{rng.choice(names)}-{i}")
        dirs.append((rel, depth + 1))
    for rel, _ in dirs:
        os.makedirs(os.path.join(dest, rel), exist_ok=True)
    log(f"{len(dirs)} directories")

    # Small files.
    n_small = max(1, round(SMALL_FILES * scale))
    regular: list[str] = []
    total = 0
    for i in range(n_small):
        d = dirs[rng.randrange(len(dirs))][0]
        size = int(SMALL_MAX * rng.random() ** 3)
        mtime = BASE_MTIME + rng.randrange(365 * 86400)
        if rng.random() < 0.10:
            name = f"{rng.choice(names)}_{i}.{rng.choice(BINARY_EXTENSIONS)}"
            off = rng.randrange(len(blob_pool) - size)
            data = blob_pool[off:off + size]
            mode = 0o644
        else:
            ext = rng.choice(EXTENSIONS)
            name = f"{rng.choice(names)}_{i}.{ext}"
            off = rng.randrange(len(text_pool) - size)
            data = text_pool[off:off + size]
            mode = 0o755 if ext == "sh" else (0o600 if ext == "conf" and rng.random() < 0.3 else 0o644)
        rel = os.path.join(d, name)
        write_file(os.path.join(dest, rel), data, mode, mtime)
        regular.append(rel)
        total += size
        if not quiet and i and i % 20000 == 0:
            log(f"{i} small files")
    log(f"{n_small} small files, {total / MiB:.1f} MiB")

    # A few symlinks (relative, inside the tree, some dangling) and hard links.
    n_links = max(1, n_small // 500)
    for i in range(n_links):
        d = dirs[rng.randrange(len(dirs))][0]
        target = regular[rng.randrange(len(regular))]
        link_target = os.path.relpath(target, d) if rng.random() < 0.9 else f"missing-{i}"
        os.symlink(link_target, os.path.join(dest, d, f"{i}.symlink"))
    n_hard = max(1, n_small // 2000)
    for i in range(n_hard):
        d = dirs[rng.randrange(len(dirs))][0]
        target = regular[rng.randrange(len(regular))]
        os.link(os.path.join(dest, target), os.path.join(dest, d, f"{i}.hardlink"))
    log(f"{n_links} symlinks, {n_hard} hard links")

    # Large files.
    lrng = random.Random(seed + 1)
    for rel, size in LOG_FILES:
        size = int(size * scale)
        path = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)

        def log_chunks(size=size):
            left = size
            while left > 0:
                piece = line_slice(log_pool, lrng, min(LOG_SLICE, left))
                left -= len(piece)
                yield piece
        write_file(path, log_chunks(), 0o640, BASE_MTIME + 365 * 86400)
        total += size
    for rel, size in BLOB_FILES:
        size = int(size * scale)
        path = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_file(path, shake_stream(rel.encode() + seed_bytes, size), 0o644,
                   BASE_MTIME + 180 * 86400)
        total += size
    log(f"large files done, {total / MiB:.1f} MiB in all")
    return {"files": n_small + n_hard + len(LOG_FILES) + len(BLOB_FILES), "symlinks": n_links,
            "directories": len(dirs), "bytes": total, "seconds": round(time.monotonic() - t0, 2)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dest", help="directory to fill (created if missing; should be empty)")
    p.add_argument("--scale", type=float, default=1.0, help="1.0 = about 1 GiB, 100,000 files")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--json", action="store_true", help="print a summary as JSON on stdout")
    a = p.parse_args(argv)
    if a.scale <= 0:
        p.error("--scale must be > 0")
    info = generate(a.dest, a.scale, a.seed, a.quiet)
    if a.json:
        print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
