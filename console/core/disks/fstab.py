"""Reading the source's /etc/fstab to learn where each filesystem was mounted."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FstabEntry:
    spec: str  # UUID=..., LABEL=..., PARTUUID=..., PARTLABEL=... or a device path
    mountpoint: str
    fstype: str
    options: str = ""  # as written: "defaults", "subvol=@,compress=zstd" ...

    def option(self, name: str) -> str | None:
        """The value of one option (subvol=@ -> "@"), "" for a flag, None when absent."""
        for option in self.options.split(","):
            key, sep, value = option.partition("=")
            if key == name:
                return value if sep else ""
        return None


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


def parse_fstab(text: str) -> list[FstabEntry]:
    entries = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 3:
            entries.append(FstabEntry(_unescape(fields[0]), _unescape(fields[1]), fields[2],
                                      _unescape(fields[3]) if len(fields) > 3 else ""))
    return entries


def matches(spec: str, *, uuid: str, label: str, partuuid: str, partlabel: str,
            device: str) -> bool:
    key, sep, value = spec.partition("=")
    if not sep:
        return spec == device
    value = value.strip('"')
    wanted = {"UUID": uuid, "LABEL": label, "PARTUUID": partuuid, "PARTLABEL": partlabel}
    found = wanted.get(key.upper())
    if not found or not value:
        return False
    # UUIDs are compared without regard to case; labels are exact.
    return found.lower() == value.lower() if key.upper().endswith("UUID") else found == value
