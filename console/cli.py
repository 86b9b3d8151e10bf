"""The command line: `restore-console [SUBCOMMAND] ...` (see ARCHITECTURE.md, Command line).

Exit codes: 0 done, 1 failed, 2 usage. Every failure is one or two lines of words on stderr;
the traceback, if any, goes to the log only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import stat
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import Sequence

from .answering import ON_FAILURE, cli_answerer
from .core.errors import RestoreError, UsageError
from .core.units import count, duration, entries_and_data, number, size
from .printer import Printer, print_finalized

log = logging.getLogger("restore_console")

DEFAULT_LOGS = ("/var/log/restore-console.log", "/tmp/restore-console.log")
AFTER = ("reboot", "poweroff", "shell")


def setup_log(path: str | None) -> str:
    """Logs everything (debug level) to a file; returns its path ("" when no default place
    can be written). A file the user named that cannot be written is a UsageError."""
    candidates = [path] if path else [os.environ.get("RESTORE_CONSOLE_LOG"), *DEFAULT_LOGS]
    for candidate in filter(None, candidates):
        try:
            handler = logging.FileHandler(candidate)
        except OSError as exc:
            if path:
                raise UsageError(f"--log {path} cannot be written: {exc.strerror}.",
                                 "Name a file in a directory that exists and can be written, "
                                 "or leave --log out.") from None
            continue
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.DEBUG)
        return candidate
    return ""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="restore-console",
                                     description="Bring a Linux machine back from a backup set.")
    parser.add_argument("--log", help="log file (default /var/log/restore-console.log)")
    parser.add_argument("--set", dest="set_path", help="the backup set to open")
    parser.add_argument("--demo", action="store_true",
                        help="run on a generated demo set and disk-image files")
    parser.add_argument("--theme", help="colour theme of the console")
    parser.add_argument("--nuke", action="store_true",
                        help="restore unattended: apply --plan FILE, or the suggested mapping "
                             "of --set onto this machine's disks when it is certain; verify, "
                             "finalize, print plain progress lines, exit 0 or 1")
    parser.add_argument("--plan", dest="nuke_plan", metavar="FILE",
                        help="with --nuke: the plan to apply (it names the set and the targets)")
    parser.add_argument("--image", dest="nuke_images", action="append", default=[],
                        metavar="FILE", help="with --nuke: also take this disk-image file as "
                                             "a target")
    parser.add_argument("--after", choices=AFTER, help="with --nuke: what follows a restore "
                        "that succeeded: reboot, poweroff or a shell (default: exit)")
    parser.add_argument("--new-uuids", dest="nuke_new_uuids", action="store_true",
                        help="with --nuke and no plan: as for plan --new-uuids")
    parser.add_argument("--rebuild-initramfs", dest="nuke_initramfs", action="store_true",
                        help="with --nuke and no plan: as for plan --rebuild-initramfs")
    parser.add_argument("--volume-wait", dest="volume_wait", type=_seconds, metavar="SECONDS",
                        help="with --nuke: how long to wait for each volume (disc or tape) it "
                             "asks for before failing (default 300)")
    parser.add_argument("--passphrase-file", dest="nuke_passphrase_file", metavar="FILE",
                        help="with --nuke: the passphrase of the LUKS containers the restore "
                             "makes again, read from the first line of FILE")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("backup", help="write a backup set of disks")
    p.add_argument("--disk", action="append", required=True, metavar="DEV|IMAGE")
    p.add_argument("--to", metavar="DIR", help="write the set into this directory")
    p.add_argument("--tape", metavar="DEV|FILE.tap",
                   help="write the set onto a tape: a drive (/dev/nst0) or a SIMH .tap image; "
                        "at the end of a tape the next one is asked for")
    p.add_argument("--block-size", metavar="N",
                   help="with --tape: the size of the tape records (default 256K)")
    p.add_argument("--obdr", metavar="RESCUE.iso",
                   help="with --tape: write this bootable ISO (mkrescue --iso) first, in the "
                        "OBDR layout, so that a drive in OBDR mode boots from it")
    p.add_argument("--iso", metavar="DIR",
                   help="write the set as ISO 9660 images for CD/DVD into this directory: "
                        "DIR/HOST-SETID-1.iso, -2.iso ...")
    p.add_argument("--volume-size", metavar="cd|dvd|SIZE",
                   help="with --iso: the size of each image (cd: 700 MiB, dvd: 4.7 GB, or a "
                        "size like 100M)")
    p.add_argument("--rescue", metavar="DIR",
                   help="with --iso: make volume 1 boot this rescue system (the directory "
                        "'mkrescue --to DIR' made: its vmlinuz and initrd.img)")
    p.add_argument("--staging", metavar="DIR",
                   help="with --tape or --iso: where the set is put together before it is "
                        "written (default: a new directory under $TMPDIR; removed after)")
    p.add_argument("--passphrase-file", metavar="FILE",
                   help="the passphrase of the LUKS containers that are not open, read from "
                        "FILE (its first line); without it, it is asked on the terminal")
    p.add_argument("--allow-omissions", action="store_true",
                   help="go on when a file changes or cannot be read while it is backed up, "
                        "or a btrfs subvolume cannot be archived yet: the set records what "
                        "was left out (inspect shows it); without it, the backup stops")

    p = sub.add_parser("inspect", help="what the set holds")
    p.add_argument("set_path", metavar="SET")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("ls", help="list one directory of the catalog")
    p.add_argument("set_path", metavar="SET")
    p.add_argument("path", nargs="?", default="/", metavar="PATH")
    p.add_argument("--search", metavar="PATTERN",
                   help="entries below PATH whose name matches (a substring, or a glob with "
                        "* ? [...]; a pattern with / matches whole paths)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("disks", help="the disks of this machine a set could be restored onto")
    p.add_argument("set_path", metavar="SET", nargs="?",
                   help="the set to be restored (its disk is marked as holding it)")
    p.add_argument("--image", action="append", default=[], metavar="FILE",
                   help="also list this disk-image file as a target")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("plan", help="show what a restore would do, without writing anything")
    _planning_arguments(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--save", metavar="FILE", help="also write the plan (JSON) to FILE")

    p = sub.add_parser("restore", help="restore disks of the set onto targets, or a selection "
                                       "of files to their original place or into a directory")
    _planning_arguments(p)
    p.add_argument("--plan", dest="plan_file", metavar="FILE",
                   help="apply a plan saved by 'plan --save' (it is the confirmation)")
    p.add_argument("--yes", action="store_true",
                   help="confirm: the targets are overwritten (with --only: the files "
                        "already there, in place or under --into)")
    p.add_argument("--only", action="append", metavar="PATH",
                   help="restore only PATH and what is below it (a path of the original "
                        "machine, or fs-N:/path); give it again for more. Without --into the "
                        "files go back to their original place: onto the set's filesystems "
                        "on the disks --map names, or on the disks of this machine that hold "
                        "them (found by UUID)")
    p.add_argument("--into", metavar="DIR",
                   help="with --only: restore into a directory instead, which stands for the "
                        "machine's root; each entry goes to DIR + its original path")
    p.add_argument("--existing", choices=("overwrite", "skip", "newer"), default="overwrite",
                   help="with --only: what to do with files already there: overwrite "
                        "(default), skip them, or keep those newer than the set's copy; "
                        "without --yes, a restore that would replace any stops and says which")
    p.add_argument("--on-failure", choices=ON_FAILURE,
                   help="when a step of a whole-disk restore fails: ask (the default on a "
                        "terminal), retry it, skip it where nothing later needs it, or abort "
                        "(the default otherwise); --yes does not answer it")

    p.add_argument("--passphrase-file", metavar="FILE",
                   help="the passphrase of the LUKS containers the restore makes again, read "
                        "from FILE (its first line); without it, it is asked on the terminal")

    p = sub.add_parser("verify", help="compare a restored tree with the set")
    p.add_argument("set_path", metavar="SET")
    p.add_argument("--root", required=True, metavar="DIR")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("mkrescue", help="build the rescue system (kernel, initramfs, CD image, "
                                        "network boot files) the console runs in")
    p.add_argument("--to", required=True, metavar="DIR")
    p.add_argument("--kernel", metavar="VMLINUZ",
                   help="the kernel (default: the newest /boot/vmlinuz-* with its modules)")
    p.add_argument("--iso", action="store_true", help="also DIR/rescue.iso (BIOS and UEFI)")
    p.add_argument("--pxe", action="store_true",
                   help="also DIR/pxe/dnsmasq.conf (proxy DHCP and TFTP beside the site's DHCP "
                        "server) and iPXE's loaders; DIR/pxe/ itself is always written")
    p.add_argument("--pxe-network", metavar="ADDRESS",
                   help="with --pxe: the network dnsmasq answers on (e.g. 192.168.1.0)")
    p.add_argument("--tools-on-media", action="store_true",
                   help="python, the console and the tools into DIR/restore-tools.squashfs, "
                        "which init loads from the media")
    p.add_argument("--append", action="append", default=[], metavar="OPTION",
                   help="kernel command-line option for the CD and network boot "
                        "(restore.media=disk, restore=expert ...)")
    return parser


def _planning_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("set_path", metavar="SET", nargs="?")
    p.add_argument("--map", action="append", metavar="SRC=TARGET",
                   help="restore original disk SRC onto TARGET (a disk or an image file); "
                        "SRC= leaves it out; without --map the suggested mapping is used. With "
                        "--only: TARGET holds SRC's filesystems now (restored, or the original)")
    p.add_argument("--resize", choices=("proportional", "grow-last"), default="proportional",
                   help="how partitions fit a target of another size (default proportional)")
    p.add_argument("--part", action="append", default=[], metavar="SRC:N=SPEC",
                   help="override partition N of SRC: fixed, auto, rest, a size (20G), "
                        "a percentage (30%%) or weight:W")
    p.add_argument("--lv", action="append", default=[], metavar="VG/LV=SPEC",
                   help="override logical volume LV of volume group VG when its physical "
                        "volumes change size: fixed, auto, rest, a size (20G), a percentage "
                        "of the group (30%%) or weight:W")
    p.add_argument("--slack", metavar="SIZE",
                   help="room kept above the data in each partition (default 64M)")
    p.add_argument("--new-uuids", action="store_true",
                   help="make the filesystems with new UUIDs (a clone that sits beside its "
                        "original); the finalize rewrites the restored system's references")
    p.add_argument("--rebuild-initramfs", action="store_true",
                   help="rebuild the restored system's initramfs in its finalize (disks on "
                        "another kind of controller)")


def parse_maps(maps: list[str]) -> dict[str, str | None]:
    """--map SRC=TARGET items; SRC= (no target) leaves that original disk out."""
    mapping: dict[str, str | None] = {}
    for item in maps:
        src, sep, target = item.partition("=")
        if not sep or not src:
            raise UsageError(f"--map {item!r} is not of the form SRC=TARGET.",
                             "Example: --map /dev/sda=/dev/sdb (or /dev/sdb= to leave it out)")
        if src in mapping:
            raise UsageError(f"--map names {src} twice.")
        mapping[src] = target or None
    targets = [t for t in mapping.values() if t]
    for target in targets:
        if targets.count(target) > 1:
            raise UsageError(f"--map sends two disks to {target}.",
                             "Give each original disk its own target.")
        if not os.path.exists(target):
            raise UsageError(f"The target {target} does not exist.",
                             "Name a disk (restore-console disks lists them) or an existing "
                             "disk-image file.")
    return mapping


def _policies(args):
    """(the policy of each disk named by --part, the policy of the others) from the options."""
    from .core.planning.resize import Override, ResizePolicy, parse_size
    settings = {"mode": args.resize}
    if args.slack:
        try:
            settings["min_slack"] = parse_size(args.slack)
        except ValueError:
            raise UsageError(f"--slack {args.slack!r} is not a size.",
                             "Example: --slack 256M") from None
    policies: dict[str, ResizePolicy] = {}
    for item in args.part:
        where, sep, spec = item.partition("=")
        src, colon, partition = where.rpartition(":")
        if not sep or not colon or not partition.isdigit():
            raise UsageError(f"--part {item!r} is not of the form SRC:N=SPEC.",
                             "Example: --part /dev/sda:2=rest")
        policies.setdefault(src, ResizePolicy(**settings)).overrides[int(partition)] = \
            Override.parse(spec)
    return policies, ResizePolicy(**settings)


def _plan_from_args(args):
    from .core.planning.boot import FinalizeOptions
    from .core.planning.choices import make_plan
    if args.set_path is None:
        raise UsageError("Name the backup set (SET).", "Example: restore-console plan /mnt/set")
    given = parse_maps(args.map) if args.map else None
    policies, default = _policies(args)
    return make_plan(args.set_path, given, policies, default,
                     FinalizeOptions(new_uuids=args.new_uuids,
                                     rebuild_initramfs=args.rebuild_initramfs),
                     _volume_policies(args))


def _volume_policies(args):
    """The LV overrides of --lv VG/LV=SPEC, by volume group."""
    from .core.planning.lvresize import VolumePolicy
    from .core.planning.resize import Override
    policies: dict[str, VolumePolicy] = {}
    for item in args.lv:
        where, sep, spec = item.partition("=")
        group, slash, volume = where.partition("/")
        if not sep or not slash or not group or not volume:
            raise UsageError(f"--lv {item!r} is not of the form VG/LV=SPEC.",
                             "Example: --lv vg0/home=rest")
        policies.setdefault(group, VolumePolicy()).overrides[volume] = Override.parse(spec)
    return policies


def _volume_answers(printer):
    """The listener for opening a SET: a tape asks for its volumes on the terminal."""
    from .core.questions import answering
    return answering(printer, cli_answerer(None, sys.stdin, sys.stderr))


def cmd_disks(args, printer) -> int:
    from .core.disks.discovery import discover_targets
    targets = discover_targets(args.set_path, args.image)
    if args.json:
        json.dump([t.to_json() for t in targets], sys.stdout, indent=1)
        print()
        return 0
    for target in targets:
        problems = target.problems()
        print(f"{target.title()}" + (f"  NOT USABLE: {'; '.join(problems)}" if problems else ""))
    if not targets:
        print("No disks found.")
    return 0


def cmd_plan(args, printer) -> int:
    from .core.planning.plan import render
    plan = _plan_from_args(args)
    if args.save:
        try:
            with open(args.save, "w") as f:
                json.dump(plan.to_json(), f, indent=1)
        except OSError as exc:
            raise UsageError(f"--save {args.save} cannot be written: {exc.strerror}.",
                             "Name a file in a directory that exists and can be written.") \
                from None
    if args.json:
        json.dump(plan.to_json(), sys.stdout, indent=1)
        print()
    else:
        print(render(plan))
    return 0


def _tape_options(args) -> int:
    """The block size of --tape, checked with the other tape options."""
    from .core.media.tapeset import DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE, check_iso
    from .core.planning.resize import parse_size
    if [args.to, args.tape, args.iso].count(None) != 2:
        raise UsageError("Give where the set goes: --to DIR, --iso DIR or --tape "
                         "DEV|FILE.tap (one).",
                         "Example: backup --disk /dev/sda --to /mnt/backup/set")
    if args.staging and args.to:
        raise UsageError("--staging goes with --tape or --iso: with --to the set is put "
                         "together in its directory.")
    if args.staging and not os.path.isdir(args.staging):
        raise UsageError(f"--staging {args.staging} is not a directory.",
                         "Name a directory with room for the set, which is put together "
                         "there before it goes onto the tape or the discs.")
    if args.tape is None:
        if args.block_size or args.obdr:
            raise UsageError("--block-size and --obdr go with --tape.")
        return 0
    block_size = DEFAULT_BLOCK_SIZE
    if args.block_size:
        try:
            block_size = parse_size(args.block_size)
        except ValueError:
            block_size = 0
        if not 512 <= block_size <= MAX_BLOCK_SIZE:
            raise UsageError(f"--block-size {args.block_size} is not a size from 512 bytes to "
                             f"{size(MAX_BLOCK_SIZE)}.", "Example: --block-size 256K")
    if args.obdr:
        check_iso(args.obdr)
    return block_size


def parse_volume_size(text: str) -> int:
    """Bytes of cd, dvd or a size (100M, 4.7GB)."""
    from .core.media.isolayout import VOLUME_SIZES
    from .core.planning.resize import parse_size
    if text.lower() in VOLUME_SIZES:
        return VOLUME_SIZES[text.lower()]
    try:
        value = parse_size(text)
    except ValueError:
        value = 0
    if value < 1024 * 1024:
        raise UsageError(f"--volume-size {text} is not cd, dvd or a size of at least 1 MiB.",
                         "Example: --volume-size dvd, or --volume-size 100M")
    return value


def _iso_options(args) -> int:
    """The volume size of --iso, checked with the other ISO options."""
    from .core.media.isowriter import check_rescue
    if args.iso is None:
        if args.volume_size or args.rescue:
            raise UsageError("--volume-size and --rescue go with --iso.")
        return 0
    if not args.volume_size:
        raise UsageError("--iso needs --volume-size: cd, dvd or a size.",
                         "Example: backup --disk /dev/sda --iso /srv/discs --volume-size dvd")
    if args.rescue:
        check_rescue(args.rescue)
    return parse_volume_size(args.volume_size)


def cmd_backup(args, printer) -> int:
    import shutil
    import tempfile

    from .core.backupset.backup import backup
    from .core.backupset.isoset import write_to_iso
    from .core.backupset.tapeset import write_to_tape
    for disk in args.disk:
        if not os.path.exists(disk):
            raise UsageError(f"--disk {disk} does not exist.",
                             "Name a disk (/dev/sda) or a disk-image file.")
    block_size = _tape_options(args)
    volume_size = _iso_options(args)
    dest = args.to or tempfile.mkdtemp(prefix="restore-console-staging-", dir=args.staging)
    try:
        from .core.questions import answering
        asking = answering(printer, cli_answerer(None, sys.stdin, sys.stderr,
                                                 passphrase_file=args.passphrase_file))
        backup_set = backup(args.disk, dest, asking, allow_omissions=args.allow_omissions)
        volumes = 0
        if args.tape:
            volumes = write_to_tape(backup_set, args.tape, block_size=block_size,
                                    obdr=args.obdr, listener=_volume_answers(printer))
        if args.iso:
            volumes = len(write_to_iso(backup_set, args.iso, volume_size, rescue=args.rescue,
                                       listener=printer))
    finally:
        if args.to is None:
            shutil.rmtree(dest, ignore_errors=True)
    printer.close()
    archives = [a for fs in backup_set.filesystems for a in fs.archives]
    files = sum(a.members for a in archives)
    stored = sum(p.size for a in archives for p in a.pieces)
    subvolumes = sum(len(fs.subvolumes) for fs in backup_set.filesystems)
    where = (f"onto {args.tape} ({count(volumes, 'volume')})" if args.tape else
             f"into {args.iso} ({count(volumes, 'ISO volume')})" if args.iso else
             f"into {args.to}")
    partitions = sum(1 for fs in backup_set.filesystems if not fs.on)
    volumes = sum(1 for fs in backup_set.filesystems if fs.on.startswith("lv:"))
    others = len(backup_set.filesystems) - partitions - volumes  # in arrays, LUKS
    print(f"Backed up {count(len(backup_set.disks), 'disk')}, "
          f"{count(partitions, 'partition')}"
          + (f", {count(volumes, 'logical volume')}" if volumes else "")
          + (f", {count(others, 'array or LUKS device', 'arrays or LUKS devices')}"
             if others else "")
          + (f" ({count(subvolumes, 'btrfs subvolume')})" if subvolumes else "")
          + f", {count(files, 'entry')} {where} ({size(stored)}).")
    _print_omissions(backup_set)
    return 0


def _print_omissions(backup_set) -> None:
    """What the set lacks, every item: a set that is not whole says so."""
    if not backup_set.omissions:
        return
    print(f"This set is incomplete: {count(len(backup_set.omissions), 'thing')} "
          f"{'was' if len(backup_set.omissions) == 1 else 'were'} not captured fully:")
    for omission in backup_set.omissions:
        print(f"  {omission.words}")


def cmd_inspect(args, printer) -> int:
    from .core.backupset.manifest import load_set
    backup_set = load_set(args.set_path, _volume_answers(printer))
    if args.json:
        json.dump(backup_set.to_json(), sys.stdout, indent=1)
        print()
        return 0
    print(f"Set {backup_set.set_id} of host {backup_set.host}, made {backup_set.created}")
    for disk in backup_set.disks:
        print(f"Disk {disk.name}: {size(disk.size)}, {disk.table} table"
              + (f", {disk.model}" if disk.model else ""))
        for part in disk.partitions:
            fs = next((f for f in backup_set.filesystems
                       if f.disk == disk.name and f.partition == part.number), None)
            what = "extended" if part.kind == "extended" else (
                f"{fs.type or fs.content or 'raw'} {fs.mountpoint or ''} label={fs.label or '-'} "
                f"uuid={fs.uuid or '-'} used={size(fs.bytes_used)}" if fs else "")
            print(f"  {part.number:>2} {size(part.start):>10} +{size(part.size):>10}  {what}")
            if fs is not None and fs.image_reason:
                print(f"{'':>27}saved as a raw image: {fs.image_reason}")
            if fs is not None and fs.subvolumes:
                print(f"{'':>27}btrfs subvolumes" + (" (quotas on)" if fs.quota else "") + ":")
            for sub in fs.subvolumes if fs is not None else []:
                flags = ", ".join(w for w, on in (("read-only", sub.read_only),
                                                  ("default", sub.default),
                                                  (f"snapshot of {sub.parent_uuid}",
                                                   bool(sub.parent_uuid))) if on)
                print(f"{'':>29}{sub.path}  id {sub.id}, in {sub.parent_id}"
                      + (f", {flags}" if flags else "")
                      + (f", mounted at {sub.mountpoint}" if sub.mountpoint else ", not mounted")
                      + (f", {count(sub.archive.members, 'entry')}" if sub.archive else ""))
    _print_stack(backup_set)
    print(f"Boot loader: {backup_set.bootloader.get('kind', 'unknown')}")
    _print_omissions(backup_set)
    return 0


def _print_stack(backup_set) -> None:
    """The layers under the filesystems, each with what it lies on and what it holds."""
    from .core.layout import place_words
    stack = backup_set.stack
    if not stack:
        return
    held = {fs.on: fs for fs in backup_set.filesystems if fs.on}

    def holds(place: str) -> str:
        fs = held.get(place)
        return (f": {fs.type or fs.content or 'raw'} {fs.mountpoint or ''} "
                f"uuid={fs.uuid or '-'} used={size(fs.bytes_used)}" if fs else "")
    print("Layers:")
    for array in stack.arrays:
        members = ", ".join(f"{place_words(m.on)} (role {m.role})" for m in array.members)
        print(f"  md array {array.device}: {array.level}, metadata {array.metadata}, UUID "
              f"{array.uuid}, {size(array.size)}, on {members}{holds(array.place)}")
    for container in stack.luks:
        print(f"  LUKS{container.version} {container.name} on {place_words(container.on)}: "
              f"UUID {container.uuid}, {container.cipher}, {container.key_size}-bit key"
              f"{holds(container.place)}")
    for group in stack.volume_groups:
        pvs = ", ".join(place_words(pv.on) for pv in group.pvs)
        print(f"  volume group {group.name} on {pvs}: UUID {group.uuid}, {size(group.size)} "
              f"in extents of {size(group.extent_size)}")
        for lv in group.lvs:
            print(f"    {lv.name} {size(lv.size)} {lv.type}"
                  + (f" tags={','.join(lv.tags)}" if lv.tags else "")
                  + holds(f"lv:{group.name}/{lv.name}"))


def cmd_ls(args, printer) -> int:
    from .core.backupset.browse import list_directory, search
    from .core.backupset.manifest import load_set
    backup_set = load_set(args.set_path, _volume_answers(printer))
    more = False
    if args.search is not None:
        fs, entries, more = search(backup_set, args.path, args.search)
    else:
        fs, entries = list_directory(backup_set, args.path)
    if args.json:
        # "fs" is the filesystem's number as inspect gives it; a btrfs subvolume's entries
        # also name the subvolume (its path from the top level).
        trees = {tree.id: tree for tree in backup_set.file_trees()}
        json.dump([{"name": os.fsdecode(e.name), "path": os.fsdecode(e.path),
                    "fs": backup_set.holder_of(trees[e.fs]).id if e.fs in trees else e.fs,
                    "subvolume": trees[e.fs].subvolume or None if e.fs in trees else None,
                    "kind": e.kind, "size": e.size, "mode": e.mode, "uid": e.uid, "gid": e.gid,
                    "mtime_ns": e.mtime_ns,
                    "link": os.fsdecode(e.link) if e.link is not None else None,
                    "blake3": e.blake3.hex() if e.blake3 else None} for e in entries],
                  sys.stdout, indent=1)
        print()
        return 0
    for e in entries:
        shown = e.name if args.search is None else _machine_path(backup_set, fs, e.path)
        name = os.fsdecode(shown).encode("utf-8", "backslashreplace").decode()
        link = f" -> {os.fsdecode(e.link)}" if e.link else ""
        print(f"{stat.filemode(_type_bits(e.kind) | e.mode)} {e.uid:>6}:{e.gid:<6} "
              f"{size(e.size):>10}  {name}{link}")
    if more:
        print(f"(only the first {number(len(entries))} matches are shown)",
              file=sys.stderr)
    return 0


def _machine_path(backup_set, fs, inner: bytes) -> bytes:
    """A catalog path as the original machine saw it (or fs-N:/path without a mount point;
    a btrfs subvolume the machine did not mount, at its path in the top level)."""
    if fs.mountpoint.startswith("/"):
        return os.fsencode(fs.mountpoint.rstrip("/")) + inner if inner != b"/" else \
            os.fsencode(fs.mountpoint)
    if fs.subvolume:
        top = f"fs-{backup_set.holder_of(fs).id}:/{fs.subvolume}".encode()
        return top + inner if inner != b"/" else top
    return f"fs-{fs.id}:".encode() + inner


def _type_bits(kind: str) -> int:
    return {"file": stat.S_IFREG, "dir": stat.S_IFDIR, "symlink": stat.S_IFLNK,
            "chardev": stat.S_IFCHR, "blockdev": stat.S_IFBLK, "fifo": stat.S_IFIFO,
            "hardlink": stat.S_IFREG}[kind]


@contextlib.contextmanager
def ctrl_c_cancels() -> Iterator[threading.Event]:
    """Inside, the first Ctrl-C (SIGINT) cancels as the console's c does: the core stops at its
    next safe point, cleans up, keeps the journal and says where it stopped. A second one
    interrupts at once."""
    cancel = threading.Event()

    def cancelled(_signal, _frame) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("restore-console: cancelling: stopping at the next safe point (Ctrl-C again "
              "stops at once)", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, cancelled)
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, previous)


class EndedBySignal(Exception):
    """SIGTERM or SIGHUP came while the console was preparing, before the app took over."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def ending_signals_unwind() -> Iterator[None]:
    """Inside, SIGTERM and SIGHUP raise EndedBySignal where the work stands, so that it unwinds
    as a failure does (tar killed, filesystems unmounted, loop devices detached) instead of
    the process dying with them held."""
    from .core.cancel import ENDING_SIGNALS

    def ended(signum, _frame) -> None:
        for other in ENDING_SIGNALS:  # a second one must not break off the clean-up
            signal.signal(other, signal.SIG_IGN)
        raise EndedBySignal(signum)

    previous = {signum: signal.signal(signum, ended) for signum in ENDING_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def cmd_restore(args, printer) -> int:
    if args.only or args.into:
        if args.plan_file or args.part or args.on_failure:
            raise UsageError("--only restores selected files; --plan, --part and --on-failure "
                             "are for whole disks. Give one or the other.")
        return _restore_selection(args, printer)
    from .core.applying.restore import apply_plan
    from .core.applying.verify import checked_words
    from .core.planning.plan import Plan, render
    from .core.questions import answering
    listener = answering(printer, cli_answerer(args.on_failure, sys.stdin, sys.stderr,
                                               passphrase_file=args.passphrase_file))
    if args.plan_file:
        if args.map or args.part or args.set_path or args.new_uuids or args.rebuild_initramfs:
            raise UsageError("--plan carries the set, the mapping, the sizes and the finalize; "
                             "give it alone.")
        try:
            with open(args.plan_file) as f:
                plan = Plan.from_json(json.load(f))
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise UsageError(f"The plan {args.plan_file} cannot be read: {exc.strerror}.",
                             "Name the file 'restore-console plan ... --save FILE' wrote.") \
                from None
        except (OSError, ValueError, KeyError) as exc:
            raise RestoreError(f"The plan {args.plan_file} cannot be read: {exc}.",
                               "Save it again with 'restore-console plan ... --save FILE'.") from None
    else:
        plan = _plan_from_args(args)
        if not args.yes:
            print(render(plan))
            targets = ", ".join(d.target.path for d in plan.disks)
            raise UsageError(f"This overwrites {targets}. Nothing was written.",
                             "Review the plan above, then add --yes to confirm.")
    log.info("applying the plan:\n%s", render(plan))
    with ctrl_c_cancels() as cancel:
        result = apply_plan(plan, listener, cancel)
    printer.close()
    print(f"Restored {result.summary()} in {duration(result.seconds)}; every file matched "
          f"its BLAKE3; compared with the set: "
          f"{checked_words(result.verified, result.covered, 0)}."
          + (f" Resumed an interrupted restore: {', '.join(result.resumed)} "
             f"{'was' if len(result.resumed) == 1 else 'were'} already restored."
             if result.resumed else ""))
    print_finalized(result)
    return 0


def _restore_selection(args, printer) -> int:
    from .core.applying.existing import existing_into
    from .core.applying.partial import restore_selection, selection_for_paths
    from .core.backupset.catalog import Catalog
    from .core.backupset.manifest import load_set
    if not args.only:
        raise UsageError("--into needs --only PATH: it restores a selection of files.",
                         "Example: restore SET --only /etc --into /mnt/restored")
    if args.set_path is None:
        raise UsageError("Name the backup set (SET).",
                         "Example: restore-console restore /mnt/set --only /etc --yes")
    if not args.into:
        return _restore_in_place(args, printer)
    if args.map:
        raise UsageError("--map names the disks to restore in place onto; --into restores into "
                         "a directory. Give one or the other.")
    into = os.path.abspath(args.into)
    backup_set = load_set(args.set_path, _volume_answers(printer))
    with Catalog(backup_set.catalog_path) as catalog:
        selections = selection_for_paths(backup_set, catalog, args.only)
    if not args.yes:
        _refuse_replacing(existing_into(backup_set, selections, into), args.existing,
                          f"Restoring into {into}")
    with ctrl_c_cancels() as cancel:
        result = restore_selection(backup_set, selections, into, existing=args.existing,
                                   listener=printer, cancel=cancel)
    printer.close()
    _print_selection_result(result, f"into {into}", args.existing)
    return 0


def _restore_in_place(args, printer) -> int:
    """--only without --into: the files go back onto the set's filesystems where they are now
    (the disks --map names, or those of this machine found holding them)."""
    from .core.applying.inplace import (
        existing_in_place,
        find_mapping,
        plan_in_place,
        restore_in_place,
    )
    from .core.applying.partial import selection_for_paths
    from .core.backupset.catalog import Catalog
    from .core.backupset.manifest import load_set
    backup_set = load_set(args.set_path, _volume_answers(printer))
    with Catalog(backup_set.catalog_path) as catalog:
        selections = selection_for_paths(backup_set, catalog, args.only)
    if args.map:
        mapping = {src: target for src, target in parse_maps(args.map).items() if target}
        for src in mapping:
            backup_set.disk(src)  # a name the set does not have is refused in words
    else:
        found = find_mapping(backup_set, selections)
        for src, candidate in found.items():
            print(f"The filesystems of {src} were found on {candidate.target}: "
                  f"{candidate.title}")
        mapping = {src: candidate.target for src, candidate in found.items()}
    plan = plan_in_place(backup_set, selections, mapping)
    print(plan.render(args.existing))
    if not args.yes:
        existing = existing_in_place(backup_set, selections, mapping)
        replaced = existing.replaced(args.existing)[0]
        print(existing.words(args.existing) if replaced else
              "No file already there would be replaced.")
        raise UsageError(f"This writes into the filesystems above, on "
                         f"{', '.join(plan.targets)}"
                         + (f", replacing {count(replaced, 'existing file')}" if replaced
                            else "") + ". Nothing was written.",
                         "Review what is shown above, then add --yes to confirm"
                         + (" (or --existing skip to leave the existing files)."
                            if replaced else "."))
    with ctrl_c_cancels() as cancel:
        result = restore_in_place(backup_set, selections, mapping, existing=args.existing,
                                  listener=printer, cancel=cancel)
    printer.close()
    _print_selection_result(result, "in place", args.existing, onto=result.destinations)
    return 0


def _refuse_replacing(existing, policy: str, doing: str) -> None:
    """Without --yes, a restore that would replace files already there stops, saying how many
    and which."""
    replaced = existing.replaced(policy)[0]
    if replaced:
        raise UsageError(f"{doing}: {existing.words(policy)} Nothing was written.",
                         f"Add --yes to replace {'it' if replaced == 1 else 'them'}, or "
                         "--existing skip to leave existing files as they are (--existing "
                         "newer: replace only those older than the set's copy).")


def _print_selection_result(result, where: str, existing: str, onto: Sequence[str] = ()) -> None:
    """What a restore of selected files did: entries, bytes, time, frames read, where to, and
    the files left as they were."""
    print(f"Restored {entries_and_data(result.entries, result.bytes)} {where} in "
          f"{duration(result.seconds)}; "
          f"read {number(result.frames_read)} of "
          f"{count(result.frames_total, 'compressed frame')}; every file matched its BLAKE3.")
    for place in onto:
        print(f"  onto {place}")
    if result.skipped:
        shown = ", ".join(os.fsdecode(p) for p in result.skipped[:10])
        more = len(result.skipped) - 10
        print(f"Left as they were ({existing}): {shown}"
              + (f" and {more} more" if more > 0 else ""))


def cmd_verify(args, printer) -> int:
    from .core.applying.verify import EXTRAS_LISTED, listed, verify
    result = verify(args.set_path, args.root, printer)
    printer.close()
    extra = len(result.extras)
    if args.json:
        json.dump({"ok": result.ok, "checked": result.checked, "covered": result.covered,
                   "bytes_hashed": result.bytes_hashed,
                   "differences": [{"path": d.path, "what": d.what} for d in result.differences],
                   "extra": extra, "skipped": result.skipped}, sys.stdout, indent=1)
        print()
    else:
        for line in listed(result.differences):
            print(line)
        for s in result.skipped:
            print(f"not checked: {s}")
        print(f"{result.summary()}"
              + (" (--json lists them all)." if extra > EXTRAS_LISTED else "."))
    return 0 if result.ok else 1


def cmd_mkrescue(args, printer) -> int:
    from humanize import naturalsize

    from .core.rescue.build import SIZE_GOAL, build_rescue
    printer.close()

    def progress(stage) -> None:
        print(f"  {stage.name:<32} {stage.count:>6}  ({stage.seconds:.1f} s)", flush=True)

    print(f"restore-console: building the rescue system in {args.to}", flush=True)
    if args.pxe_network and not args.pxe:
        raise UsageError("--pxe-network goes with --pxe (the dnsmasq configuration).")
    if args.pxe_network:
        import ipaddress
        try:
            ipaddress.IPv4Address(args.pxe_network)
        except ValueError:
            raise UsageError(f"--pxe-network {args.pxe_network} is not an IPv4 address.",
                             "Give the network's address, e.g. 192.168.1.0.") from None
    rescue = build_rescue(args.to, kernel=args.kernel, iso=args.iso,
                          tools_on_media=args.tools_on_media, command_line=args.append,
                          pxe=args.pxe, pxe_network=args.pxe_network, progress=progress)
    print(f"kernel {rescue.kernel_version}")
    print(f"initramfs: {naturalsize(rescue.initramfs_size, binary=True)} compressed "
          f"({rescue.initramfs_size / SIZE_GOAL:.0%} of the {naturalsize(SIZE_GOAL, binary=True)}"
          f" goal), {naturalsize(rescue.uncompressed, binary=True)} unpacked")
    if rescue.tools_image_size:
        print(f"tools on the media: {naturalsize(rescue.tools_image_size, binary=True)}")
    for path in rescue.written:
        print(f"wrote {path}")
    for path in rescue.pxe_missing:
        print(f"not found: {path} (Debian package ipxe); put iPXE's loader into "
              f"{os.path.join(args.to, 'pxe')} by hand")
    print(f"in {rescue.seconds:.0f} s")
    return 0


SUBCOMMANDS_HINT = ("the subcommands work without one (restore-console --help): inspect, ls, "
                    "disks, plan, restore, verify, backup.")


def terminal_refusal(stdin=None, stdout=None, environ=None) -> UsageError | None:
    """Why the full-screen console cannot run here, in words; None when it can. It needs
    standard input and output on a terminal, and a TERM that says what the terminal can do
    (set and not "dumb"): without them it could neither read a key nor draw a screen."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    environ = os.environ if environ is None else environ
    for name, stream in (("standard input", stdin), ("standard output", stdout)):
        try:
            on_terminal = stream.isatty()
        except (AttributeError, ValueError):  # closed, or replaced by something without a fd
            on_terminal = False
        if not on_terminal:
            return UsageError(f"The full-screen console needs a terminal, and its {name} is "
                              "not one.",
                              "Start it on a console or in a terminal; "
                              + SUBCOMMANDS_HINT)
    term = environ.get("TERM", "")
    if term in ("", "dumb"):
        return UsageError(f"The full-screen console needs to know the terminal, and TERM is "
                          f"{'not set' if not term else 'dumb'}.",
                          "Set it (TERM=linux on the text console, TERM=vt220 on a serial "
                          "line); " + SUBCOMMANDS_HINT)
    return None


def cmd_nuke(args, printer) -> int:
    from .nuke import nuke
    return nuke(args, ctrl_c_cancels)


def cmd_console(args, printer) -> int:
    """The full-screen console. With --demo: the demo set and its target images (made here
    first, as root; the first run takes a few seconds and says so on the terminal)."""
    from .tui.themes import theme_names
    if args.theme and args.theme not in theme_names():
        raise UsageError(f"There is no theme {args.theme!r}.",
                         f"Themes: {', '.join(theme_names())}.")
    refusal = terminal_refusal()
    if refusal is not None:  # before the demo blanks anything or the app takes the terminal
        raise refusal
    set_path, images, problem = args.set_path, [], None
    if args.demo:
        from . import demo
        base = demo.DEMO_DIR
        if os.geteuid() == 0:
            with ending_signals_unwind():  # the first build attaches and mounts images
                demo.prepare(base, listener=printer)
            printer.close()
        elif not demo.has_demo_set(base):
            problem = RestoreError(
                "The demo set has not been made yet, and making it needs root (it attaches "
                "disk images as loop devices and mounts them).",
                "Run 'sudo make demo' once; after that the demo also starts without root.")
        if set_path is None and demo.has_demo_set(base):
            set_path = demo.demo_paths(base)["set"]
        images = demo.demo_targets(base)
    from .tui.app import RestoreApp
    from .tui.terminal import stray_output_to
    with stray_output_to(args.log_path):
        app = RestoreApp(set_path, theme=args.theme, log_path=args.log_path,
                         target_images=images, demo=args.demo, set_problem=problem)
        app.run()
    if app.ended_by_signal:  # as a shell reports a process a signal ended
        return 128 + app.ended_by_signal
    return app.return_code or 0


COMMANDS = {"backup": cmd_backup, "inspect": cmd_inspect, "ls": cmd_ls, "disks": cmd_disks,
            "plan": cmd_plan,
            "restore": cmd_restore, "verify": cmd_verify, "mkrescue": cmd_mkrescue,
            None: cmd_console}


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except BrokenPipeError:
        # The reader (head, less) went away: that is not a failure, and Python must not
        # complain again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _dispatch(args, printer) -> int:
    """The command; a SET on an NFS share is mounted first, and unmounted at the end also
    after a failure, Ctrl-C, SIGTERM or SIGHUP (they unwind to here)."""
    from .core.media.nfs import is_share, share_directory, unmount_shares
    command = cmd_nuke if args.nuke else COMMANDS[args.command]
    try:
        where = getattr(args, "set_path", None)
        if where and is_share(where):
            with ending_signals_unwind():
                args.set_path = share_directory(where, printer)
                return command(args, printer)
        return command(args, printer)
    finally:
        unmount_shares()


def _run(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    nuke_only = {"--plan": args.nuke_plan, "--image": args.nuke_images, "--after": args.after,
                 "--new-uuids": args.nuke_new_uuids, "--rebuild-initramfs": args.nuke_initramfs,
                 "--volume-wait": args.volume_wait is not None,
                 "--passphrase-file": args.nuke_passphrase_file}
    given = [name for name, value in nuke_only.items() if value]
    if args.nuke and args.command is not None or not args.nuke and given:
        print(f"restore-console: {', '.join(given) or '--nuke'} "
              f"{'is' if len(given) <= 1 else 'are'} for nuke mode, without a subcommand: "
              "restore-console --nuke [--set SET] [--plan FILE] [--after ...].",
              file=sys.stderr)
        return 2
    try:
        log_path = args.log_path = setup_log(args.log)
    except UsageError as exc:
        print(f"restore-console: {exc.message}\n  {exc.hint}", file=sys.stderr)
        return 2
    printer = Printer()
    log.info("restore-console %s", " ".join(sys.argv[1:] if argv is None else argv))
    try:
        return _dispatch(args, printer)
    except UsageError as exc:
        printer.close()
        print(f"restore-console: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  {exc.hint}", file=sys.stderr)
        return 2
    except RestoreError as exc:
        printer.close()
        log.error("%s %s\n%s", exc.message, exc.hint, traceback.format_exc())
        print(f"restore-console: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  {exc.hint}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise
    except EndedBySignal as exc:
        printer.close()
        log.warning("ended by %s before the console started", exc)
        print(f"restore-console: ended by {exc} before the console started; what was under "
              "way was undone (nothing is left mounted or attached).", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        printer.close()
        whole_disks = args.command == "restore" and not (args.only or args.into)
        print("restore-console: interrupted; run the same command again to "
              + ("resume where it stopped." if whole_disks else "start over."), file=sys.stderr)
        return 1
    except Exception as exc:  # the operator gets words, the log gets the traceback
        printer.close()
        log.exception("unexpected failure")
        print(f"restore-console: unexpected failure: {exc}", file=sys.stderr)
        print(f"  The details are in the log{': ' + log_path if log_path else ''}.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
