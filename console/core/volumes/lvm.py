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
import time
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


def mapper_path(vg: str, lv: str) -> str:
    """The device-mapper name: /dev/mapper/vg0-root (a dash inside a name is doubled)."""
    return f"/dev/mapper/{vg.replace('-', '--')}-{lv.replace('-', '--')}"



SECTOR = 512  # LVM's text metadata counts in 512-byte sectors


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def group_metadata(group: VolumeGroup, devices: dict[str, tuple[str, int]],
                   sizes: dict[str, int], host: str = "restore-console") -> str:
    """vgcfgrestore's text for `group` with its UUIDs, names and tags, each LV linear and
    `sizes[name]` bytes (whole extents), laid out one after the other over the PVs in order.

    devices maps each PV's UUID to (its device now, that device's size in bytes). Only plain
    linear or striped LVs can be laid out anew; the caller restores any other group from its
    saved metadata, when its sizes allow that."""
    e = group.extent_size
    lines = [f"{group.name} {{", f"\tid = {_quoted(group.uuid)}", "\tseqno = 1",
             '\tformat = "lvm2"', '\tstatus = ["RESIZEABLE", "READ", "WRITE"]', "\tflags = []",
             *([f"\ttags = [{', '.join(map(_quoted, group.tags))}]"] if group.tags else []),
             f"\textent_size = {e // SECTOR}", "\tmax_lv = 0", "\tmax_pv = 0",
             "\tmetadata_copies = 0", "", "\tphysical_volumes {"]
    free: list[tuple[str, int, int]] = []  # (pv key, first free extent, extents left)
    for index, pv in enumerate(group.pvs):
        device, device_size = devices[pv.uuid]
        pe_start = pv.pe_start or 1024 * 1024
        count = (device_size - pe_start) // e
        if count <= 0:
            raise RestoreError(f"{device} ({device_size} bytes) is too small for a physical "
                               f"volume of {group.name}.", "Give it a larger partition.")
        lines += [f"\t\tpv{index} {{", f"\t\t\tid = {_quoted(pv.uuid)}",
                  f"\t\t\tdevice = {_quoted(device)}", '\t\t\tstatus = ["ALLOCATABLE"]',
                  "\t\t\tflags = []", f"\t\t\tdev_size = {device_size // SECTOR}",
                  f"\t\t\tpe_start = {pe_start // SECTOR}", f"\t\t\tpe_count = {count}",
                  "\t\t}"]
        free.append((f"pv{index}", 0, count))
    lines += ["\t}", "", "\tlogical_volumes {"]
    for lv in group.lvs:
        if lv.type not in ("linear", "striped") or lv.stripes > 1:
            raise RestoreError(f"{group.name}/{lv.name} is a {lv.type} volume: it cannot be "
                               "laid out anew.",
                               "Restore onto disks at least as large as the original's.")
        wanted = -(-sizes.get(lv.name, lv.size) // e)
        segments = []
        while wanted:
            if not free:
                raise RestoreError(f"The logical volumes of {group.name} do not fit on its "
                                   "physical volumes.", "Make the plan again.")
            key, first, left = free[0]
            take = min(left, wanted)
            segments.append((key, first, take))
            wanted -= take
            free[0] = (key, first + take, left - take)
            if free[0][2] == 0:
                free.pop(0)
        lines += [f"\t\t{lv.name} {{", f"\t\t\tid = {_quoted(lv.uuid)}",
                  '\t\t\tstatus = ["READ", "WRITE", "VISIBLE"]', "\t\t\tflags = []",
                  *([f"\t\t\ttags = [{', '.join(map(_quoted, lv.tags))}]"] if lv.tags else []),
                  f"\t\t\tcreation_time = {int(time.time())}",
                  f"\t\t\tcreation_host = {_quoted(host)}",
                  f"\t\t\tsegment_count = {len(segments)}"]
        start = 0
        for number, (key, first, take) in enumerate(segments, start=1):
            lines += ["", f"\t\t\tsegment{number} {{", f"\t\t\t\tstart_extent = {start}",
                      f"\t\t\t\textent_count = {take}", "", '\t\t\t\ttype = "striped"',
                      "\t\t\t\tstripe_count = 1", "", "\t\t\t\tstripes = [",
                      f"\t\t\t\t\t{_quoted(key)}, {first}", "\t\t\t\t]", "\t\t\t}"]
            start += take
        lines.append("\t\t}")
    lines += ["\t}", "}", ""]
    header = ['contents = "Text Format Volume Group"', "version = 1", "",
              'description = "made by restore-console for a restore"', "",
              f"creation_host = {_quoted(host)}", f"creation_time = {int(time.time())}", ""]
    return "\n".join(header + lines)


def create_physical_volume(uuid: str, device: str, metadata_file: str) -> None:
    """pvcreate with the original UUID; the metadata file gives its place (pe_start)."""
    _lvm(["pvcreate", "--yes", "--force", "--uuid", uuid, "--restorefile", metadata_file,
          device], f"make {device} the LVM physical volume {uuid}")


def restore_group(vg: str, metadata_file: str) -> None:
    """vgcfgrestore from a metadata file: the group, its LVs and their UUIDs."""
    _lvm(["vgcfgrestore", "--file", metadata_file, vg],
         f"make volume group {vg} again from its metadata")
