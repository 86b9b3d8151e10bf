"""md RAID arrays: read with `mdadm --detail --export` and sysfs, made again with mdadm --create.

`--detail --export` gives the level, metadata version, UUID, name and each member's role as
KEY=VALUE lines; the array's size, chunk size and bitmap come from sysfs (/sys/block/mdN/size,
md/chunk_size, md/bitmap/location), which say them as numbers rather than words.
"""

from __future__ import annotations

import os
import re

from ..errors import RestoreError
from ..layout import MdArray, MdMember
from ..system import output, run

TOOLS = ("mdadm",)  # run here; the rescue image carries it

_MEMBER = re.compile(r"^MD_DEVICE_(?P<key>.+)_(?P<what>ROLE|DEV)$")


def running_array(member: str) -> str:
    """The running md array that member belongs to (/dev/md0), "" when none: its holder in
    sysfs."""
    block = os.path.basename(os.path.realpath(member))
    holders = f"/sys/class/block/{block}/holders"
    arrays = sorted(h for h in os.listdir(holders) if h.startswith("md")) \
        if os.path.isdir(holders) else []
    return f"/dev/{arrays[0]}" if arrays else ""


def parse_export(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def parse_detail(text: str, device: str, places: dict[str, str] | None = None) -> MdArray:
    """The array of `mdadm --detail --export` (size, chunk and bitmap left at 0 and ""; the
    caller reads them from sysfs); places maps a member's device to its place in the set."""
    places = places or {}
    values = parse_export(text)
    members: dict[str, dict[str, str]] = {}
    for key, value in values.items():
        match = _MEMBER.match(key)
        if match:
            members.setdefault(match["key"], {})[match["what"]] = value
    try:
        array = MdArray(uuid=values["MD_UUID"], device=device, name=values.get("MD_NAME", ""),
                        level=values["MD_LEVEL"], metadata=values.get("MD_METADATA", ""),
                        size=0, raid_devices=int(values.get("MD_DEVICES", "0")))
    except KeyError as exc:
        raise RestoreError(f"mdadm says nothing of {exc} for {device}.",
                           f"Run 'mdadm --detail {device}' in the shell.") from None
    for member in sorted(members.values(), key=lambda m: (m.get("ROLE", ""), m.get("DEV", ""))):
        dev = member.get("DEV", "")
        array.members.append(MdMember(device=dev, on=places.get(dev, dev),
                                      role=member.get("ROLE", "")))
    return array


def _sysfs(device: str, name: str) -> str:
    path = f"/sys/class/block/{os.path.basename(os.path.realpath(device))}/{name}"
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def read_array(device: str, places: dict[str, str]) -> MdArray:
    array = parse_detail(output(["mdadm", "--detail", "--export", device],
                                f"read the md array {device}"), device, places)
    array.size = int(_sysfs(device, "size") or 0) * 512
    array.chunk_size = int(_sysfs(device, "md/chunk_size") or 0)
    location = _sysfs(device, "md/bitmap/location")
    array.bitmap = "internal" if location.startswith(("+", "-")) else (location or "none")
    return array


def create_array(array: MdArray, device: str, members: list[str | None]) -> None:
    """mdadm --create with the original's UUID, name, level and metadata version; None in
    members is a missing one (a degraded mirror on one disk)."""
    command = ["mdadm", "--create", device, "--run", "--force", "--metadata", array.metadata,
               "--level", array.level, "--raid-devices", str(len(members)),
               "--uuid", array.uuid]
    if array.name:
        command += ["--name", array.name.split(":", 1)[-1], "--homehost",
                    array.name.split(":", 1)[0] if ":" in array.name else "any"]
    if array.chunk_size and array.level not in ("raid1", "linear"):
        command += ["--chunk", f"{array.chunk_size // 1024}K"]
    if array.bitmap in ("internal", "none"):
        command += ["--bitmap", array.bitmap]
    run([*command, *[m or "missing" for m in members]], f"create the md array {device}")


def stop_array(device: str) -> None:
    run(["mdadm", "--stop", device], f"stop the md array {device}", check=False)
