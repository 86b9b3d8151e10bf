"""btrfs subvolumes: read from a source mounted at its top level, and made again on a target.

Read with btrfs-progs' text output (6.2 has no JSON for `subvolume list`, and its JSON
`qgroup show` aborts): `btrfs subvolume list -p -u -q -R` from the top level gives each
subvolume's id, parent, UUIDs and path relative to the top level; `-r` lists the read-only
ones; `get-default` the default; `qgroup show -re --raw` the limits when quotas are on.

A path btrfs prints cannot hold a newline unambiguously: a line that does not read as a
subvolume, or a path that is not a subvolume's root on the mounted tree, is a problem said in
words (the backup stops, or records it), never guessed around.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field

from ..layout import Subvolume
from ..system import output, run

TOOLS = ("btrfs",)  # run here; the rescue image carries them

log = logging.getLogger("restore_console")

TOP_LEVEL = 5
# How every problem with the layout starts (the backup's hint differs from a file's problem).
SUBVOLUME_WHY = "btrfs "
# A subvolume's root directory always has this inode number (BTRFS_FIRST_FREE_OBJECTID).
SUBVOLUME_ROOT_INODE = 256
_LISTED = re.compile(r"^ID (?P<id>\d+) gen \d+ parent (?P<parent>\d+) top level \d+ "
                     r"parent_uuid (?P<parent_uuid>\S+)\s+received_uuid (?P<received_uuid>\S+)"
                     r"\s+uuid (?P<uuid>\S+) path (?P<path>.+)$")
_READ_ONLY = re.compile(r"^ID (?P<id>\d+) gen \d+ top level \d+ path ")
_DEFAULT = re.compile(r"^ID (?P<id>\d+)\b")
_QGROUP = re.compile(r"^0/(?P<id>\d+)\s+\d+\s+\d+\s+(?P<max_rfer>\d+|none)\s+"
                     r"(?P<max_excl>\d+|none)\b")


@dataclass
class Layout:
    """What a btrfs holds besides its top level's files."""

    subvolumes: list[Subvolume] = field(default_factory=list)
    quota: bool = False
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path or line, why)


def _uuid(value: str) -> str:
    return "" if value == "-" else value


def parse_subvolume_list(text: str) -> tuple[list[Subvolume], list[str]]:
    """(subvolumes, lines it cannot read) of `btrfs subvolume list -p -u -q -R` run at the
    top level."""
    found, unread = [], []
    for line in text.splitlines():
        match = _LISTED.match(line)
        if match is None:
            if line.strip():
                unread.append(line)
            continue
        found.append(Subvolume(path=match["path"], id=int(match["id"]),
                               parent_id=int(match["parent"]), uuid=_uuid(match["uuid"]),
                               parent_uuid=_uuid(match["parent_uuid"]),
                               received_uuid=_uuid(match["received_uuid"])))
    return found, unread


def parse_read_only(text: str) -> set[int]:
    """The ids `btrfs subvolume list -r` lists (its path may not even be whole: ids only)."""
    return {int(m["id"]) for line in text.splitlines() if (m := _READ_ONLY.match(line))}


def parse_default(text: str) -> int:
    """The id `btrfs subvolume get-default` names: "ID 256 gen 7 top level 5 path @", or
    "ID 5 (FS_TREE)" for the top level."""
    match = _DEFAULT.match(text.strip())
    if match is None:
        raise ValueError(f"unexpected get-default output: {text.strip()!r}")
    return int(match["id"])


def parse_qgroup_limits(text: str) -> dict[int, tuple[int, int]]:
    """subvolume id -> (max referenced, max exclusive) in bytes, 0 for none, of
    `btrfs qgroup show -re --raw`; level-0 qgroups only."""
    limits = {}
    for line in text.splitlines():
        match = _QGROUP.match(line.strip())
        if match:
            limits[int(match["id"])] = tuple(0 if v == "none" else int(v)
                                             for v in (match["max_rfer"], match["max_excl"]))
    return limits


def higher_qgroups(text: str) -> list[str]:
    """Qgroups above level 0 (1/100 ...): grouping limits this release does not recreate."""
    return [line.split()[0] for line in text.splitlines()
            if re.match(r"^\s*[1-9]\d*/\d+\s", line)]


def read_layout(top: str) -> Layout:
    """The subvolumes of the btrfs mounted at top (subvolid=5), with their read-only flags,
    the default, and quota limits."""
    layout = Layout()
    listed, unread = parse_subvolume_list(output(
        ["btrfs", "subvolume", "list", "-p", "-u", "-q", "-R", top],
        f"list the btrfs subvolumes of {top}"))
    layout.problems += [("", f"btrfs subvolume list prints a line that cannot be read "
                         f"({line!r}: a name with a line break?): that subvolume is not "
                         "archived") for line in unread]
    read_only = parse_read_only(output(["btrfs", "subvolume", "list", "-r", top],
                                       f"list the read-only btrfs subvolumes of {top}"))
    default = parse_default(output(["btrfs", "subvolume", "get-default", top],
                                   f"read the default btrfs subvolume of {top}"))
    for subvolume in listed:
        subvolume.read_only = subvolume.id in read_only
        subvolume.default = subvolume.id == default
        where = os.path.join(top, subvolume.path)
        try:
            st = os.lstat(where)
            is_root = st.st_ino == SUBVOLUME_ROOT_INODE and os.path.isdir(where)
        except OSError:
            is_root = False
        if is_root:
            layout.subvolumes.append(subvolume)
        else:
            layout.problems.append(("/" + subvolume.path, "btrfs lists this subvolume, but it is "
                                    "not at that path: it is not archived"))
    proc = run(["btrfs", "qgroup", "show", "-re", "--raw", top],
               f"read the btrfs quota groups of {top}", check=False)
    if proc.returncode == 0:
        layout.quota = True
        text = proc.stdout.decode(errors="replace")
        limits = parse_qgroup_limits(text)
        for subvolume in layout.subvolumes:
            subvolume.max_referenced, subvolume.max_exclusive = limits.get(subvolume.id, (0, 0))
        layout.problems += [(qgroup, "btrfs quota group above level 0, its limits are not "
                             "recreated") for qgroup in higher_qgroups(text)]
    elif b"not enabled" not in proc.stderr:
        layout.problems.append(("", "btrfs quota groups cannot be read: "
                                + proc.stderr.decode(errors="replace").strip()))
    layout.subvolumes = creation_order(layout.subvolumes)
    return layout


def creation_order(subvolumes: list[Subvolume]) -> list[Subvolume]:
    """By the source's ids, but each after the subvolume it sits in (a parent's path is a
    prefix of its path): a fresh btrfs numbers them in that order, so a source made without
    deleting any gets its ids again."""
    left = sorted(subvolumes, key=lambda s: s.id)
    paths = {s.path for s in subvolumes}
    made: list[Subvolume] = []
    while left:
        done = {s.path for s in made}
        ready = next((s for s in left
                      if all(p in done for p in paths if s.path.startswith(p + "/"))), left[0])
        made.append(ready)
        left.remove(ready)
    return made


def create_subvolumes(top: str, subvolumes: list[Subvolume]) -> None:
    """Makes each subvolume at its path under top (the target's top level), the directories
    on the way as plain ones (tar gives them their metadata); one already there is kept, so
    a resumed restore runs this again."""
    for subvolume in creation_order(subvolumes):
        where = os.path.join(top, subvolume.path)
        if os.path.isdir(where) and os.lstat(where).st_ino == SUBVOLUME_ROOT_INODE:
            continue
        os.makedirs(os.path.dirname(where), exist_ok=True)
        run(["btrfs", "-q", "subvolume", "create", where],
            f"create the btrfs subvolume {subvolume.path}")


def finish_subvolumes(top: str, subvolumes: list[Subvolume], quota: bool) -> None:
    """After the content is in: quota limits, the read-only flags (a read-only subvolume
    takes no more writes, not even of inode flags), then the default subvolume."""
    if quota:
        run(["btrfs", "quota", "enable", top], f"enable btrfs quotas on {top}")
        for subvolume in subvolumes:
            where = os.path.join(top, subvolume.path)
            if subvolume.max_referenced:
                run(["btrfs", "qgroup", "limit", str(subvolume.max_referenced), where],
                    f"limit the btrfs subvolume {subvolume.path}")
            if subvolume.max_exclusive:
                run(["btrfs", "qgroup", "limit", "-e", str(subvolume.max_exclusive), where],
                    f"limit the btrfs subvolume {subvolume.path}")
    for subvolume in subvolumes:
        if subvolume.read_only:
            run(["btrfs", "property", "set", "-ts", os.path.join(top, subvolume.path), "ro",
                 "true"], f"make the btrfs subvolume {subvolume.path} read-only")
    default = next((s for s in subvolumes if s.default), None)
    if default is not None:
        run(["btrfs", "subvolume", "set-default", os.path.join(top, default.path)],
            f"make {default.path} the default btrfs subvolume")
