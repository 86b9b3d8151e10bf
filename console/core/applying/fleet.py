"""Fleets: what a restore chosen by the map (planning/fleet.py) sends back to the share: the log
and a JSON result in logs/HOST-DATE.log and logs/HOST-DATE.json, when the share can be
written (a share read read-only is mounted a second time, read-write, for it)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from typing import Any

from ..media.nfs import writable

log = logging.getLogger("restore_console")

LOGS = "logs"


def report_name(host: str, when: float) -> str:
    """HOST-DATE, the date in UTC to the second (20261201T064512Z); the host as a file name."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in host) or "host"
    return f"{safe}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(when))}"


def send_report(share_root: str, host: str, when: float, log_path: str | None,
                result: dict[str, Any]) -> tuple[list[str], str]:
    """Writes logs/HOST-DATE.log (a copy of log_path) and logs/HOST-DATE.json (result) on the
    share; another machine's report of the same second gets -2, -3 ... Returns the paths
    written, as on the share (share_root/logs/...), and '' or why nothing could be written."""
    with writable(share_root) as root:
        if root is None:
            return [], (f"the share at {share_root} cannot be written (its export is read-only "
                        "for this machine, or the read-write mount failed: the log says)")
        try:
            logs = os.path.join(root, LOGS)
            os.makedirs(logs, exist_ok=True)
            base = report_name(host, when)
            for number in range(1, 1000):
                name = base if number == 1 else f"{base}-{number}"
                try:  # the JSON first, exclusively: it claims the name
                    fd = os.open(os.path.join(logs, name + ".json"),
                                 os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                    break
                except FileExistsError:
                    continue
            else:
                return [], f"{logs} has too many reports named {base}"
            with os.fdopen(fd, "w") as f:
                json.dump(result, f, indent=1)
                f.write("\n")
            written = [os.path.join(share_root, LOGS, name + ".json")]
            if log_path and os.path.isfile(log_path):
                shutil.copyfile(log_path, os.path.join(logs, name + ".log"))
                written.insert(0, os.path.join(share_root, LOGS, name + ".log"))
            return written, ""
        except OSError as exc:
            log.warning("the report could not be written to %s: %s", share_root, exc)
            return [], f"writing to {share_root}/{LOGS} failed: {exc.strerror}"
