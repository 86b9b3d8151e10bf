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
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("restore", help="restore disks of the set onto targets")
    p.add_argument("set_path", metavar="SET")
    p.add_argument("--map", action="append", required=True, metavar="SRC=TARGET")
    p.add_argument("--yes", action="store_true", help="confirm: the targets will be overwritten")

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
    from .core.browse import list_directory
    backup_set = load_set(args.set_path)
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
        name = os.fsdecode(e.name).encode("utf-8", "backslashreplace").decode()
        link = f" -> {os.fsdecode(e.link)}" if e.link else ""
        print(f"{stat.filemode(_type_bits(e.kind) | e.mode)} {e.uid:>6}:{e.gid:<6} "
              f"{_size(e.size):>10}  {name}{link}")
    return 0


def _type_bits(kind: str) -> int:
    return {"file": stat.S_IFREG, "dir": stat.S_IFDIR, "symlink": stat.S_IFLNK,
            "chardev": stat.S_IFCHR, "blockdev": stat.S_IFBLK, "fifo": stat.S_IFIFO,
            "hardlink": stat.S_IFREG}[kind]


def cmd_restore(args, printer) -> int:
    from .core.restore import parse_maps, restore
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
    """The full-screen console. With --demo: the demo set and its target images (made here
    first, as root; the first run takes a few seconds and says so on the terminal)."""
    from .themes import theme_names
    if args.theme and args.theme not in theme_names():
        raise UsageError(f"There is no theme {args.theme!r}.",
                         f"Themes: {', '.join(theme_names())}.")
    set_path, images, problem = args.set_path, [], None
    if args.demo:
        from .core import demo
        base = demo.DEMO_DIR
        if os.geteuid() == 0:
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
    from .app import RestoreApp
    app = RestoreApp(set_path, theme=args.theme, log_path=args.log_path, target_images=images,
                     demo=args.demo, set_problem=problem)
    app.run()
    return app.return_code or 0


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
    log_path = args.log_path = setup_log(args.log)
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
