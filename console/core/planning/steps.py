"""The kinds of step a plan is made of, each with its details and the one line that says it.

Every kind is here, in the order a plan uses them (STEP_KINDS); restore.py applies each with
the handler its table names. A step is saved as {"action": its kind's name, "target": the
target disk's path ("" for steps on the restored tree), "detail": its other fields}.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol

from ..errors import RestoreError
from ..layout import place_words
from ..units import count, size


class PlanView(Protocol):
    """What a step's line needs of the plan it is in (Plan provides it)."""

    def table_of(self, target: str) -> str:
        """The partition table the plan lays out on target: msdos | gpt."""


@dataclass(frozen=True)
class Step:
    """One step of a plan; the kinds below add their details."""

    action: ClassVar[str]  # the kind's name, as saved plans and the log say it
    target: str  # the target disk's path ("" for steps on the restored tree)
    # Details added after plans were first saved: left out while empty, so a plan without
    # them saves as it was.
    later: ClassVar[tuple[str, ...]] = ()

    def detail(self) -> dict[str, Any]:
        """The details as a saved plan has them: every field but the target."""
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in asdict(self).items()
                if name != "target" and not (name in self.later and not value)}

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "target": self.target, "detail": self.detail()}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Step:
        kind = STEP_KINDS.get(data["action"])
        if kind is None:
            raise RestoreError(f"The plan has an unknown step {data['action']!r}.",
                               "Make the plan again with this console.")
        try:
            return kind(target=data["target"], **data["detail"])
        except TypeError:
            raise ValueError(f"its {data['action']} step has the details "
                             f"{sorted(data['detail'])}, not those of this console") from None

    def describe(self, plan: PlanView) -> str:
        """One line saying exactly what the step does, to which disk."""
        raise NotImplementedError


@dataclass(frozen=True)
class Wipe(Step):
    action = "wipe"

    def describe(self, plan: PlanView) -> str:
        return f"Wipe the old partition table and signatures on {self.target}"


@dataclass(frozen=True)
class CreateTable(Step):
    action = "create-table"
    table: str  # msdos | gpt
    disk_id: str  # the original's, "" when it had none

    def describe(self, plan: PlanView) -> str:
        ident = f" (disk id {self.disk_id})" if self.disk_id else ""
        return f"Create a new {self.table} partition table on {self.target}{ident}"


@dataclass(frozen=True)
class CreatePartition(Step):
    action = "create-partition"
    number: int
    start: int  # bytes
    size: int  # bytes
    kind: str  # primary | extended | logical
    holds: str  # what goes into it, e.g. "ext4 /" ("" when nothing is said)

    def describe(self, plan: PlanView) -> str:
        holds = f" for {self.holds}" if self.holds else ""
        kind = "" if plan.table_of(self.target) == "gpt" else f"{self.kind} "
        return (f"Create {kind}partition {self.number} on {self.target}: {size(self.size)} at "
                f"{size(self.start)}{holds}")


@dataclass(frozen=True)
class SetIdentifiers(Step):
    action = "set-identifiers"

    def describe(self, plan: PlanView) -> str:
        return "Set the original disk id, partition types and partition UUIDs"


@dataclass(frozen=True)
class WriteBootArea(Step):
    action = "write-boot-area"
    source: str  # the original disk whose boot area the set saved

    def describe(self, plan: PlanView) -> str:
        return f"Write the boot code and the gap before the first partition of {self.source}"


@dataclass(frozen=True)
class CreateLuks(Step):
    action = "create-luks"
    uuid: str  # the original container's
    partition: int
    size: int  # bytes of its new partition
    name: str  # the mapping it is opened as (crypttab's name)
    version: int
    cipher: str
    key_size: int  # bits

    def describe(self, plan: PlanView) -> str:
        return (f"Format partition {self.partition} ({size(self.size)}) as LUKS{self.version} "
                f"with UUID {self.uuid} ({self.cipher}, {self.key_size}-bit key) and the "
                f"passphrase asked before anything is written; open it as {self.name}")


@dataclass(frozen=True)
class CreateArray(Step):
    action = "create-array"
    uuid: str  # the original array's
    device: str  # its device on the source, made again here: /dev/md0
    level: str
    metadata: str
    name: str  # the superblock's name ("" for metadata 0.90)
    # each member as "TARGET:N" (partition N of a target disk), or "missing"
    members: tuple[str, ...] = ()
    size: int = 0  # bytes of the array on its new members

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", tuple(self.members))  # a saved plan has a list

    def describe(self, plan: PlanView) -> str:
        present = [m for m in self.members if m != "missing"]
        named = ", ".join("partition {1} of {0}".format(*m.rsplit(":", 1)) for m in present)
        missing = len(self.members) - len(present)
        degraded = (f" and {count(missing, 'missing member')} (degraded: a mirror of "
                    f"{count(len(present), 'member')}, another disk can be added later)"
                    if missing else "")
        return (f"Make md array {self.device} ({self.level}, metadata {self.metadata}, UUID "
                f"{self.uuid}{', name ' + self.name if self.name else ''}) of about "
                f"{size(self.size)} "
                f"on {named}{degraded}")


@dataclass(frozen=True)
class CreatePhysicalVolume(Step):
    action = "create-physical-volume"
    group: str  # the volume group it belongs to
    uuid: str  # the original PV's
    partition: int
    size: int  # bytes of its device: the new partition, or the LUKS mapping on it
    on: str = ""  # "luks:UUID" (in a container on that partition), "md:UUID" (an array)
    later = ("on",)

    def describe(self, plan: PlanView) -> str:
        where = (f"the LUKS container {self.on[5:]} on partition {self.partition}"
                 if self.on.startswith("luks:") else place_words(self.on) if self.on
                 else f"partition {self.partition}")
        return (f"Make {where} ({size(self.size)}) an LVM physical volume "
                f"of {self.group}, UUID {self.uuid}")


@dataclass(frozen=True)
class CreateVolumeGroup(Step):
    action = "create-volume-group"
    group: str
    uuid: str
    # LV name -> bytes, in the group's order: what the group's metadata is written with
    sizes: dict[str, int] = field(default_factory=dict)
    physical_volumes: int = 1

    def describe(self, plan: PlanView) -> str:
        volumes = ", ".join(f"{name} {size(bytes_)}" for name, bytes_ in self.sizes.items())
        return (f"Make volume group {self.group} (UUID {self.uuid}) on its "
                f"{count(self.physical_volumes, 'physical volume')} with the original UUIDs "
                f"and names, its logical volumes {volumes or 'none'}; activate it")


@dataclass(frozen=True)
class MakeFilesystem(Step):
    action = "make-filesystem"
    fs: int  # the filesystem's id in the set
    partition: int
    title: str
    type: str
    uuid: str
    label: str
    size: int  # bytes of its new partition
    on: str = ""  # its place when not a partition: "lv:vg0/root"
    later = ("on",)

    def describe(self, plan: PlanView) -> str:
        where = place_words(self.on) if self.on else f"partition {self.partition}"
        return (f"Make {self.type} on {where} ({size(self.size)}), "
                f"UUID {self.uuid or '-'}, label {self.label or '-'}")


@dataclass(frozen=True)
class WriteImage(Step):
    action = "write-image"
    fs: int  # a filesystem the set saved as a raw image
    partition: int
    title: str
    on: str = ""  # its place when not a partition: "lv:vg0/data"
    later = ("on",)

    def describe(self, plan: PlanView) -> str:
        where = place_words(self.on) if self.on else f"partition {self.partition}"
        return f"Write {where} back from its saved image: {self.title}"


@dataclass(frozen=True)
class Mount(Step):
    action = "mount"
    fs: int
    partition: int
    type: str
    title: str
    mountpoint: str  # its place in the restored tree, "" for a mount of its own
    # btrfs with subvolumes: the one at mountpoint ("@"); its top level is mounted on its own,
    # where the subvolumes are made
    subvolume: str = ""
    subvolumes: bool = False
    on: str = ""  # its place when not a partition: "lv:vg0/root"
    later = ("subvolume", "subvolumes", "on")

    def describe(self, plan: PlanView) -> str:
        where = self.mountpoint or "a mount of its own"
        holder = place_words(self.on) if self.on else f"partition {self.partition}"
        if self.subvolumes:
            return (f"Mount {self.title} ({holder}): its top level on a mount "
                    "of its own, where its subvolumes are made"
                    + (f"; subvolume {self.subvolume} at {self.mountpoint}"
                       if self.subvolume and self.mountpoint else ""))
        return f"Mount {self.title} ({holder}) at {where}"


@dataclass(frozen=True)
class Restore(Step):
    action = "restore"
    fs: int
    title: str
    files: int  # entries of its archive (and its subvolumes')
    bytes: int  # bytes its archive unpacks to (and its subvolumes')
    # btrfs: the subvolumes made again before the files, as said: "@ (default)", "@snap1
    # (read-only)"; their flags are set after the files
    subvolumes: tuple[str, ...] = ()
    later = ("subvolumes",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "subvolumes", tuple(self.subvolumes))  # a saved plan has a list

    def describe(self, plan: PlanView) -> str:
        made = (f"; btrfs subvolumes {', '.join(self.subvolumes)}, read-only flags and the "
                "default set after the files" if self.subvolumes else "")
        return (f"Restore filesystem {self.fs} ({self.title}): {count(self.files, 'entry')}, "
                f"{size(self.bytes)}, each file checked against its BLAKE3{made}")


@dataclass(frozen=True)
class Verify(Step):
    action = "verify"
    target: str = ""
    fs: tuple[int, ...] = ()  # the restored filesystems

    def __post_init__(self) -> None:
        object.__setattr__(self, "fs", tuple(self.fs))  # a saved plan has a list

    def describe(self, plan: PlanView) -> str:
        return "Verify kind, owner, mode, times and links of every restored entry"


@dataclass(frozen=True)
class RewriteReferences(Step):
    action = "rewrite-references"
    target: str = ""
    # old UUID -> new, of the filesystems this plan makes with another UUID (--new-uuids)
    uuids: dict[str, str] = field(default_factory=dict)

    def describe(self, plan: PlanView) -> str:
        renamed = "".join(f"; UUID {old} becomes {new}" for old, new in self.uuids.items())
        return ("Rewrite the references to disks in the restored /etc/fstab, /etc/crypttab, "
                "grub's configuration and the kernel command line: device paths (such as "
                "/dev/sda2) become UUID=" + renamed)


@dataclass(frozen=True)
class InstallBootLoader(Step):
    action = "install-boot-loader"
    firmware: str  # bios | efi
    partition: int  # the BIOS boot partition or the EFI system partition; 0: the MBR's gap
    efi_directory: str = ""  # where the restored system mounts its EFI system partition

    def describe(self, plan: PlanView) -> str:
        if self.firmware == "efi":
            return (f"Install grub for UEFI with the restored system's grub-install into the "
                    f"EFI system partition ({self.partition}) at {self.efi_directory}, with "
                    "the fallback EFI/BOOT/BOOTX64.EFI and, when this console runs under "
                    "UEFI, the firmware's boot entry; then update-grub")
        where = (f"its core image in the BIOS boot partition ({self.partition})"
                 if self.partition else "its core image in the gap after the MBR")
        return (f"Install grub for BIOS on {self.target} with the restored system's "
                f"grub-install (boot code in the first sector, {where}); then update-grub")


@dataclass(frozen=True)
class RebuildInitramfs(Step):
    action = "rebuild-initramfs"
    target: str = ""

    def describe(self, plan: PlanView) -> str:
        return ("Rebuild the restored system's initramfs for every kernel (update-initramfs, "
                "or dracut), with the drivers of these disks")


@dataclass(frozen=True)
class Finalize(Step):
    action = "finalize"
    target: str = ""
    # copy the log and the plan into the restored system (there is a restored root)
    log: bool = False

    def describe(self, plan: PlanView) -> str:
        return ("Copy the log and the plan into /var/log/restore-console/ of the restored "
                "system, unmount everything, detach loop devices"
                if self.log else "Unmount everything, detach loop devices")


# Every kind, in the order a plan uses them, by the name saved plans give it.
STEP_KINDS: dict[str, type[Step]] = {kind.action: kind for kind in (
    Wipe, CreateTable, CreatePartition, SetIdentifiers, WriteBootArea, CreateArray, CreateLuks,
    CreatePhysicalVolume,
    CreateVolumeGroup, MakeFilesystem,
    WriteImage, Mount, Restore, Verify, RewriteReferences, InstallBootLoader, RebuildInitramfs,
    Finalize)}
