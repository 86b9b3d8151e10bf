"""LVM: volume groups, their physical and logical volumes, read through LVM's JSON reports.

Every command goes through the `lvm` binary (`lvm lvs ...`): the rescue image carries that one
file, not the dozens of names Debian links to it. Reports are asked for with
`--reportformat json --units b --nosuffix`, so every size is a number of bytes; vgcfgbackup's
text is kept whole in the set, since vgcfgrestore and pvcreate --restorefile make the group
again from it with its UUIDs.
"""

from __future__ import annotations

import json
import os
import tempfile
from ..errors import RestoreError
from ..layout import LogicalVolume, PhysicalVolume, VolumeGroup
from ..system import output

TOOLS = ("lvm",)  # run here; the rescue image carries it

_REPORT = ["--reportformat", "json", "--units", "b", "--nosuffix"]
LV_FIELDS = "vg_name,lv_name,lv_uuid,lv_size,segtype,lv_tags,pool_lv,stripes,lv_attr"
VG_FIELDS = "vg_name,vg_uuid,vg_size,vg_extent_size,vg_extent_count,vg_tags"
PV_FIELDS = "pv_name,pv_uuid,pv_size,dev_size,pe_start,vg_name"


def report_rows(text: str, kind: str) -> list[dict[str, str]]:
    """The rows of an LVM JSON report (`lvs`/`vgs`/`pvs --reportformat json`): kind is lv, vg
    or pv. Text that is no such report is a RestoreError naming it."""
    try:
        data = json.loads(text)
        rows = [row for report in data["report"] for row in report.get(kind, [])]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RestoreError(f"LVM's {kind}s report cannot be read ({exc}).",
                           "Run 'lvm " + kind + "s --reportformat json' in the shell to see "
                           "what it says.") from None
    return rows


def _tags(value: str) -> list[str]:
    return [tag for tag in value.split(",") if tag]


def _number(row: dict[str, str], key: str) -> int:
    value = row.get(key, "") or "0"
    return int(float(value))  # --units b gives whole bytes; float() takes "4194304.00" too


def parse_groups(vgs: str, pvs: str, lvs: str,
                 places: dict[str, str] | None = None) -> list[VolumeGroup]:
    """The volume groups of three JSON reports (VG_FIELDS, PV_FIELDS, LV_FIELDS); places maps
    a PV's device to its place in the set ("part:/dev/sda:2"); a device not in it keeps its
    own name as place (the caller says it is not understood)."""
    places = places or {}
    groups: dict[str, VolumeGroup] = {}
    for row in report_rows(vgs, "vg"):
        groups[row["vg_name"]] = VolumeGroup(
            name=row["vg_name"], uuid=row["vg_uuid"], size=_number(row, "vg_size"),
            extent_size=_number(row, "vg_extent_size"),
            extents=_number(row, "vg_extent_count"), tags=_tags(row.get("vg_tags", "")))
    for row in report_rows(pvs, "pv"):
        group = groups.get(row.get("vg_name", ""))
        if group is None:
            continue  # a PV in no group holds nothing to restore
        device = row["pv_name"]
        group.pvs.append(PhysicalVolume(uuid=row["pv_uuid"], device=device,
                                        on=places.get(device, device),
                                        size=_number(row, "pv_size"),
                                        device_size=_number(row, "dev_size"),
                                        pe_start=_number(row, "pe_start")))
    for row in report_rows(lvs, "lv"):
        group = groups.get(row["vg_name"])
        if group is None:
            continue
        group.lvs.append(LogicalVolume(name=row["lv_name"], uuid=row["lv_uuid"],
                                       size=_number(row, "lv_size"), type=row.get("segtype", ""),
                                       tags=_tags(row.get("lv_tags", "")),
                                       pool=row.get("pool_lv", ""),
                                       stripes=max(1, _number(row, "stripes")),
                                       active=row.get("lv_attr", "    a")[4:5] == "a",
                                       attributes=row.get("lv_attr", "")))
    return list(groups.values())


def _lvm(args: list[str], what: str) -> str:
    return output(["lvm", *args], what)


def read_groups(devices: list[str], places: dict[str, str]) -> list[VolumeGroup]:
    """The volume groups whose PVs are among devices, with their vgcfgbackup text; internal
    LVs (mirror logs, thin pool metadata: names in brackets) are not listed by lvs without -a,
    which is what a restore makes again by itself."""
    pvs = _lvm(["pvs", *_REPORT, "-o", PV_FIELDS, *devices], "list the LVM physical volumes")
    names = sorted({row["vg_name"] for row in report_rows(pvs, "pv") if row.get("vg_name")})
    if not names:
        return []
    vgs = _lvm(["vgs", *_REPORT, "-o", VG_FIELDS, *names], "list the LVM volume groups")
    lvs = _lvm(["lvs", *_REPORT, "-o", LV_FIELDS, *names], "list the LVM logical volumes")
    groups = parse_groups(vgs, pvs, lvs, places)
    for group in groups:
        group.metadata = metadata_text(group.name)
    return groups


def metadata_text(vg: str) -> str:
    """vgcfgbackup's text of one group, read from a file of its own."""
    with tempfile.TemporaryDirectory(prefix="restore-console-vg-") as directory:
        path = os.path.join(directory, f"{vg}.vgcfg")
        _lvm(["vgcfgbackup", "-f", path, vg], f"save the metadata of volume group {vg}")
        with open(path) as f:
            return f.read()


def activate(vg: str) -> None:
    _lvm(["vgchange", "-a", "y", vg], f"activate volume group {vg}")


def deactivate(vg: str) -> None:
    _lvm(["vgchange", "-a", "n", vg], f"deactivate volume group {vg}")


def lv_path(vg: str, lv: str) -> str:
    return f"/dev/{vg}/{lv}"

