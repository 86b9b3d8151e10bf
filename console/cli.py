"""The command line: `restore-console [SUBCOMMAND] ...` (see ARCHITECTURE.md, Command line).

Exit codes: 0 done, 1 failed, 2 usage. Every failure is one or two lines of words on stderr;
the traceback, if any, goes to the log only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import stat
import sys
import traceback

import humanize

from .core.errors import RestoreError, UsageError
from .printer import Printer

log = logging.getLogger("restore_console")

DEFAULT_LOGS = ("/var/log/restore-console.log", "/tmp/restore-console.log")


def setup_log(path: str | None) -> str:
    """Logs everything (debug level) to a file; returns its path."""
    candidates = [path] if path else [os.environ.get("RESTORE_CONSOLE_LOG"), *DEFAULT_LOGS]
    for candidate in filter(None, candidates):
        try:
            handler = logging.FileHandler(candidate)
        except OSError:
            continue
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.DEBUG)
        return candidate
    return ""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="restore-console",
                                     description="Bring a Linux machine back from a backup set.")
    parser.add_argument("--log", help="log file (default /var/log/restore-console.log)")
    parser.add_argument("--set", dest="set_path", help="the backup set to open")
    parser.add_argument("--demo", action="store_true",
                        help="run on a generated demo set and disk-image files")
    parser.add_argument("--theme", help="colour theme of the console")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("backup", help="write a backup set of disks")
    p.add_argument("--disk", action="append", required=True, metavar="DEV|IMAGE")
    p.add_argument("--to", required=True, metavar="DIR")

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

    p = sub.add_parser("restore", help="restore disks of the set onto targets, or a selection "
                                       "of files into a directory")
    p.add_argument("set_path", metavar="SET")
    p.add_argument("--map", action="append", metavar="SRC=TARGET")
    p.add_argument("--yes", action="store_true",
                   help="confirm: the targets (or existing files under --into) are overwritten")
    p.add_argument("--only", action="append", metavar="PATH",
                   help="restore only PATH and what is below it (a path of the original "
                        "machine, or fs-N:/path); give it again for more")
    p.add_argument("--into", metavar="DIR",
                   help="with --only: the directory that stands for the machine's root; each "
                        "entry goes to DIR + its original path")
    p.add_argument("--existing", choices=("overwrite", "skip", "newer"), default="overwrite",
                   help="with --only: what to do with files already there (default overwrite)")

    p = sub.add_parser("verify", help="compare a restored tree with the set")
    p.add_argument("set_path", metavar="SET")
    p.add_argument("--root", required=True, metavar="DIR")
    p.add_argument("--json", action="store_true")
    return parser


def _size(n: int) -> str:
    return humanize.naturalsize(n, binary=True)


def cmd_backup(args, printer) -> int:
    from .core.backup import backup
    backup_set = backup(args.disk, args.to, printer)
    printer.close()
    files = sum(fs.archive.members for fs in backup_set.filesystems if fs.archive)
    stored = sum(p.size for fs in backup_set.filesystems if fs.archive for p in fs.archive.pieces)
    print(f"Backed up {len(backup_set.disks)} disk(s), {len(backup_set.filesystems)} "
          f"partition(s), {humanize.intcomma(files)} files into {args.to} ({_size(stored)}).")
    return 0


def cmd_inspect(args, printer) -> int:
    from .core.backupset import load_set
    backup_set = load_set(args.set_path)
    if args.json:
        json.dump(backup_set.to_json(), sys.stdout, indent=1)
        print()
        return 0
    print(f"Set {backup_set.set_id} of host {backup_set.host}, made {backup_set.created}")
    for disk in backup_set.disks:
        print(f"Disk {disk.name}: {_size(disk.size)}, {disk.table} table"
              + (f", {disk.model}" if disk.model else ""))
        for part in disk.partitions:
            fs = next((f for f in backup_set.filesystems
                       if f.disk == disk.name and f.partition == part.number), None)
            what = "extended" if part.kind == "extended" else (
                f"{fs.type or 'raw'} {fs.mountpoint or ''} label={fs.label or '-'} "
                f"uuid={fs.uuid or '-'} used={_size(fs.bytes_used)}" if fs else "")
            print(f"  {part.number:>2} {_size(part.start):>10} +{_size(part.size):>10}  {what}")
    print(f"Boot loader: {backup_set.bootloader.get('kind', 'unknown')}")
    return 0


def cmd_ls(args, printer) -> int:
    from .core.backupset import load_set
    from .core.browse import list_directory, search
    backup_set = load_set(args.set_path)
    more = False
    if args.search is not None:
        fs, entries, more = search(backup_set, args.path, args.search)
    else:
        fs, entries = list_directory(backup_set, args.path)
    if args.json:
        json.dump([{"name": os.fsdecode(e.name), "path": os.fsdecode(e.path), "fs": e.fs,
                    "kind": e.kind, "size": e.size, "mode": e.mode, "uid": e.uid, "gid": e.gid,
                    "mtime_ns": e.mtime_ns,
                    "link": os.fsdecode(e.link) if e.link is not None else None,
                    "blake3": e.blake3.hex() if e.blake3 else None} for e in entries],
                  sys.stdout, indent=1)
        print()
        return 0
    for e in entries:
        shown = e.name if args.search is None else _machine_path(fs, e.path)
        name = os.fsdecode(shown).encode("utf-8", "backslashreplace").decode()
        link = f" -> {os.fsdecode(e.link)}" if e.link else ""
        print(f"{stat.filemode(_type_bits(e.kind) | e.mode)} {e.uid:>6}:{e.gid:<6} "
              f"{_size(e.size):>10}  {name}{link}")
    if more:
        print(f"(only the first {humanize.intcomma(len(entries))} matches are shown)",
              file=sys.stderr)
    return 0


def _machine_path(fs, inner: bytes) -> bytes:
    """A catalog path as the original machine saw it (or fs-N:/path without a mount point)."""
    if fs.mountpoint.startswith("/"):
        return os.fsencode(fs.mountpoint.rstrip("/")) + inner if inner != b"/" else \
            os.fsencode(fs.mountpoint)
    return f"fs-{fs.id}:".encode() + inner


def _type_bits(kind: str) -> int:
    return {"file": stat.S_IFREG, "dir": stat.S_IFDIR, "symlink": stat.S_IFLNK,
            "chardev": stat.S_IFCHR, "blockdev": stat.S_IFBLK, "fifo": stat.S_IFIFO,
            "hardlink": stat.S_IFREG}[kind]


def cmd_restore(args, printer) -> int:
    if args.only or args.into:
        return _restore_selection(args, printer)
    from .core.restore import parse_maps, restore
    if not args.map:
        raise UsageError("restore needs --map SRC=TARGET (whole disks), or --only PATH with "
                         "--into DIR (a selection of files).",
                         "Example: restore SET --only /etc --into /mnt/restored")
    mapping = parse_maps(args.map)
    if not args.yes:
        targets = ", ".join(mapping.values())
        raise UsageError(f"This overwrites {targets}. Nothing was written.",
                         "Add --yes to confirm.")
    result = restore(args.set_path, mapping, printer)
    printer.close()
    print(f"Restored {humanize.intcomma(result.files)} files ({_size(result.bytes)}) in "
          f"{humanize.precisedelta(int(result.seconds))}; every file matched its BLAKE3.")
    for name in result.unmapped:
        print(f"Not restored (no target given): disk {name}")
    return 0


def _duration(seconds: float) -> str:
    if seconds < 1:
        return humanize.precisedelta(seconds, minimum_unit="milliseconds", format="%0.0f")
    return humanize.precisedelta(seconds, minimum_unit="seconds", format="%0.1f")


def _restore_selection(args, printer) -> int:
    from .core.backupset import load_set
    from .core.catalog import Catalog
    from .core.partial import restore_selection, selection_for_paths
    if not args.only:
        raise UsageError("--into needs --only PATH: it restores a selection of files.",
                         "Example: restore SET --only /etc --into /mnt/restored")
    if not args.into:
        raise UsageError("--only needs --into DIR: the directory that stands for the machine's "
                         "root (mount the restored system there to put files back in place).",
                         "Example: restore SET --only /etc/passwd --into /mnt/restored")
    if args.map:
        raise UsageError("--map restores whole disks; --only with --into restores files into a "
                         "directory. Give one or the other.")
    into = os.path.abspath(args.into)
    if (not args.yes and args.existing != "skip" and os.path.isdir(into)
            and any(os.scandir(into))):
        raise UsageError(f"{into} is not empty: existing files there may be overwritten. "
                         "Nothing was written.",
                         "Add --yes to confirm, or --existing skip to leave them alone.")
    backup_set = load_set(args.set_path)
    with Catalog(backup_set.catalog_path) as catalog:
        selections = selection_for_paths(backup_set, catalog, args.only)
    result = restore_selection(backup_set, selections, into, existing=args.existing,
                               listener=printer)
    printer.close()
    print(f"Restored {humanize.intcomma(result.entries)} entries "
          f"({_size(result.bytes)} of archive) into {into} in {_duration(result.seconds)}; "
          f"read {humanize.intcomma(result.frames_read)} of "
          f"{humanize.intcomma(result.frames_total)} compressed frames; every file matched "
          "its BLAKE3.")
    if result.skipped:
        shown = ", ".join(os.fsdecode(p) for p in result.skipped[:10])
        more = len(result.skipped) - 10
        print(f"Left as they were ({args.existing}): {shown}"
              + (f" and {more} more" if more > 0 else ""))
    return 0


def cmd_verify(args, printer) -> int:
    from .core.verify import verify
    result = verify(args.set_path, args.root, printer)
    printer.close()
    if args.json:
        json.dump({"ok": result.ok, "checked": result.checked,
                   "bytes_hashed": result.bytes_hashed,
                   "differences": [{"path": d.path, "what": d.what} for d in result.differences],
                   "skipped": result.skipped}, sys.stdout, indent=1)
        print()
    else:
        for d in result.differences:
            print(f"{d.path}: {d.what}")
        for s in result.skipped:
            print(f"not checked: {s}")
        print(f"{humanize.intcomma(result.checked)} entries checked, "
              f"{len(result.differences)} differences.")
    return 0 if result.ok else 1


def cmd_console(args, printer) -> int:
    from .core.demo import run_demo
    if args.demo:
        return run_demo(printer)
    raise UsageError("The full-screen console is not built yet.",
                     "Use the subcommands (restore-console --help), or --demo.")


COMMANDS = {"backup": cmd_backup, "inspect": cmd_inspect, "ls": cmd_ls,
            "restore": cmd_restore, "verify": cmd_verify, None: cmd_console}


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except BrokenPipeError:
        # The reader (head, less) went away: that is not a failure, and Python must not
        # complain again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    log_path = setup_log(args.log)
    printer = Printer()
    log.info("restore-console %s", " ".join(sys.argv[1:] if argv is None else argv))
    try:
        return COMMANDS[args.command](args, printer)
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
    except KeyboardInterrupt:
        printer.close()
        print("restore-console: interrupted; run the same command again to start over.",
              file=sys.stderr)
        return 1
    except Exception as exc:  # the operator gets words, the log gets the traceback
        printer.close()
        log.exception("unexpected failure")
        print(f"restore-console: unexpected failure: {exc}", file=sys.stderr)
        print(f"  The details are in the log{': ' + log_path if log_path else ''}.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
