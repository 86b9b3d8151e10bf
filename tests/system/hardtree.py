"""A file tree that is hard to back up and restore faithfully, and the tools to compare trees.

The tree is built as root on a mounted ext4 filesystem. The comparison uses rsync and plain
syscalls only, never the project's code, so it is an independent judge of a restore.
"""

from __future__ import annotations

import errno
import os
import random
import stat
import subprocess
import zlib
from pathlib import Path

MiB = 1024 * 1024

# Deterministic mtimes: a base around 2020 plus a per-path offset, with a nanosecond part
# that is never a whole microsecond, so a restore that rounds to µs or s is caught.
_MTIME_BASE_NS = 1_600_000_000 * 1_000_000_000


def _mtime_ns(relpath: bytes) -> int:
    crc = zlib.crc32(relpath)
    return _MTIME_BASE_NS + (crc % 100_000_000) * 1_000_000_000 + (crc % 999_999) * 1000 + 123


def _b(root: Path, rel: str | bytes) -> bytes:
    """The absolute path as bytes; rel may hold bytes that are not UTF-8."""
    return os.fsencode(root) + b"/" + (rel if isinstance(rel, bytes) else os.fsencode(rel))


def _write(root: Path, rel: str | bytes, data: bytes) -> None:
    with open(_b(root, rel), "wb") as f:
        f.write(data)


def _mkdirs(root: Path, *rels: str | bytes) -> None:
    for rel in rels:
        os.makedirs(_b(root, rel), exist_ok=True)


def _content(root: Path, rng: random.Random) -> None:
    _mkdirs(root, "content")
    for size in (0, 1, 511, 512, 513, 64 * 1024):
        _write(root, f"content/size-{size}", rng.randbytes(size))
    _write(root, "content/random-3M", rng.randbytes(3 * MiB))
    line = b"the quick brown fox jumps over the lazy dog 0123456789\n"
    _write(root, "content/compressible-2M", (line * (2 * MiB // len(line) + 1))[: 2 * MiB])


def _owners(root: Path) -> None:
    _mkdirs(root, "owners")
    for name, uid, gid in (("uid1234-gid5678", 1234, 5678), ("root-root", 0, 0),
                           ("nobody", 65534, 65534)):
        _write(root, f"owners/{name}", name.encode() + b"\n")
        os.chown(_b(root, f"owners/{name}"), uid, gid)
    os.symlink(b"nobody", _b(root, "owners/symlink-1234"))
    os.lchown(_b(root, "owners/symlink-1234"), 1234, 5678)
    _mkdirs(root, "owners/dir-1234")
    os.chown(_b(root, "owners/dir-1234"), 1234, 5678)


def _modes(root: Path) -> None:
    _mkdirs(root, "modes", "modes/sticky-1777", "modes/setgid-dir-2775", "modes/read-only-dir-0555")
    files = {"setuid-4755": 0o4755, "setgid-2755": 0o2755, "private-0600": 0o600,
             "none-0000": 0o000, "exec-0755": 0o755}
    for name in files:
        _write(root, f"modes/{name}", b"#!/bin/sh\n")
    # chown clears setuid/setgid, so owners come first: a non-root setuid file catches a restore
    # that sets the mode before the owner.
    os.chown(_b(root, "modes/setuid-4755"), 1234, 5678)
    for name, mode in files.items():
        os.chmod(_b(root, f"modes/{name}"), mode)
    # The read-only directory has content, so a restore must set directory modes after filling.
    _write(root, "modes/read-only-dir-0555/inside", b"inside\n")
    for name, mode in (("sticky-1777", 0o1777), ("setgid-dir-2775", 0o2775),
                       ("read-only-dir-0555", 0o555)):
        os.chmod(_b(root, f"modes/{name}"), mode)


def _xattrs(root: Path) -> bool:
    """Sets user.* xattrs, and a security.* one if the kernel allows; returns whether it did."""
    _mkdirs(root, "xattrs", "xattrs/dir-with-xattr")
    _write(root, "xattrs/text", b"text\n")
    _write(root, "xattrs/binary", b"binary\n")
    os.setxattr(_b(root, "xattrs/text"), b"user.comment", b"hello, world")
    os.setxattr(_b(root, "xattrs/text"), b"user.empty", b"")
    os.setxattr(_b(root, "xattrs/binary"), b"user.binary", bytes(range(256)))
    os.setxattr(_b(root, "xattrs/dir-with-xattr"), b"user.dir", b"on a directory")
    _write(root, "xattrs/security", b"security\n")
    try:
        os.setxattr(_b(root, "xattrs/security"), b"security.restoretest", b"label\x00value")
    except OSError as e:
        # An LSM or the filesystem may refuse unknown security.* names: record it, don't fail.
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EACCES):
            raise
        return False
    return True


def _acls(root: Path) -> None:
    _mkdirs(root, "acl", "acl/default-acl-dir")
    _write(root, "acl/access-acl", b"acl\n")
    subprocess.run(["setfacl", "-m", "u:1234:rw,g:5678:r", _b(root, "acl/access-acl")], check=True)
    subprocess.run(["setfacl", "-d", "-m", "u:1234:rwx,g:5678:rx,o::-",
                    _b(root, "acl/default-acl-dir")], check=True)
    # Created after the default ACL, so they inherit it the way real files do.
    _write(root, "acl/default-acl-dir/inherited", b"inherited\n")
    _mkdirs(root, "acl/default-acl-dir/subdir")


def _hard_links(root: Path) -> list[str]:
    names = ["links/a/first", "links/a/second", "links/b/third"]
    _mkdirs(root, "links/a", "links/b")
    _write(root, names[0], b"one inode, three names\n")
    for name in names[1:]:
        os.link(_b(root, names[0]), _b(root, name))
    return names


def _symlinks(root: Path) -> dict[str, str]:
    links = {"relative": "../content/size-512", "absolute": "/etc/hostname",
             "dangling": "does/not/exist", "to-directory": "../content"}
    _mkdirs(root, "symlinks")
    for name, target in links.items():
        os.symlink(target, _b(root, f"symlinks/{name}"))
    return {name: f"symlinks/{name}" for name in links}


def _sparse(root: Path) -> str:
    rel = "sparse/sparse-64M"
    _mkdirs(root, "sparse")
    size = 64 * MiB
    with open(_b(root, rel), "wb") as f:
        f.truncate(size)
        for offset in (0, 10 * MiB, size - 4096):
            os.pwrite(f.fileno(), bytes([0xA5]) * 4096, offset)
    return rel


def _specials(root: Path) -> dict[str, str]:
    _mkdirs(root, "special")
    nodes = {"char_device": ("special/char-null", stat.S_IFCHR, os.makedev(1, 3)),
             "block_device": ("special/block-sda1", stat.S_IFBLK, os.makedev(8, 1))}
    for rel, kind, dev in nodes.values():
        os.mknod(_b(root, rel), kind | 0o660, dev)
    os.mkfifo(_b(root, "special/fifo"), 0o644)
    return {key: rel for key, (rel, _, _) in nodes.items()} | {"fifo": "special/fifo"}


def _names(root: Path) -> dict[str, object]:
    _mkdirs(root, "names", "empty/nested-empty")
    odd = [b"names/with space", b"names/new\nline", b"names/caf\xe9", b"names/\xff\xfe"]
    for rel in odd:
        _write(root, rel, rel + b"\n")
    name_255 = "names/" + "n" * 255
    _write(root, name_255, b"255\n")
    # Six levels of 100-byte names: beyond ustar's 100/155 limits and NAME_MAX in total.
    long_dir = "/".join(f"{level}" + "d" * 99 for level in range(6))
    _mkdirs(root, f"long/{long_dir}")
    long_path = f"long/{long_dir}/" + "f" * 200
    _write(root, long_path, b"long\n")
    return {"odd_names": [os.fsdecode(rel) for rel in odd], "name_255": name_255,
            "long_path": long_path, "empty_dirs": ["empty", "empty/nested-empty"]}


def _set_mtimes(root: Path) -> None:
    """Sets every mtime under root, root included; directories last and deepest first."""
    top = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(top, topdown=False):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            ns = _mtime_ns(os.path.relpath(path, top))
            os.utime(path, ns=(ns, ns), follow_symlinks=False)
        # Bottom-up walk: everything inside dirpath is final, so its mtime can be set now.
        ns = _mtime_ns(os.path.relpath(dirpath, top))
        os.utime(dirpath, ns=(ns, ns), follow_symlinks=False)


def build_hard_tree(root: Path) -> dict:
    """Fills the existing directory root (a mounted ext4, as root) with the hard tree.

    Returns what was created: relative paths as str (bytes that are not UTF-8 are
    surrogate-escaped; os.fsencode gives them back) and whether a security.* xattr could be set.
    Call it last: it sets the mtime of everything under root, root included.
    """
    rng = random.Random(20240229)
    _content(root, rng)
    _owners(root)
    _modes(root)
    security = _xattrs(root)
    _acls(root)
    info: dict = {
        "hard_links": _hard_links(root),
        "symlinks": _symlinks(root),
        "sparse": _sparse(root),
        **_specials(root),
        **_names(root),
        "security_xattr": security,
        "xattr_file": "xattrs/text",
        "acl_file": "acl/access-acl",
        "default_acl_dir": "acl/default-acl-dir",
        "setuid_file": "modes/setuid-4755",
    }
    _set_mtimes(root)
    return info


def rsync_differences(src: Path, dst: Path) -> list[str]:
    """What rsync would change to make dst like src: one itemized line per difference.

    --modify-window=-1 makes rsync compare mtimes to the nanosecond; by default it ignores
    differences below a second.
    """
    proc = subprocess.run(
        ["rsync", "-naHAX", "--checksum", "--itemize-changes", "--numeric-ids",
         "--modify-window=-1",
         os.fsencode(src) + b"/", os.fsencode(dst) + b"/"],
        capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"rsync exited with {proc.returncode}: "
                           f"{proc.stderr.decode(errors='backslashreplace')}")
    lines = proc.stdout.decode(errors="backslashreplace").splitlines()
    return [line for line in lines if line.strip()]


def is_sparse(path: str | bytes | Path) -> bool:
    st = os.stat(path)
    return st.st_blocks * 512 < st.st_size


def xattrs_and_acls_snapshot(root: Path) -> dict[str, tuple[tuple[str, bytes], ...]]:
    """Relative path -> its sorted (name, value) xattrs, ACLs (system.posix_acl_*) included.

    Only entries that have at least one xattr appear; symlinks are read, not followed.
    """
    top = os.fsencode(root)
    snapshot = {}
    paths = [top]
    for dirpath, dirnames, filenames in os.walk(top):
        paths += [os.path.join(dirpath, name) for name in dirnames + filenames]
    for path in paths:
        names = os.listxattr(path, follow_symlinks=False)
        if names:
            snapshot[os.fsdecode(os.path.relpath(path, top))] = tuple(sorted(
                (name, os.getxattr(path, name, follow_symlinks=False)) for name in names))
    return snapshot
