"""LUKS containers: read through cryptsetup's JSON metadata (LUKS2) or its dump (LUKS1).

LUKS2's `luksDump --dump-json-metadata` has the segments and key slots but not the binary
header's UUID and label: those come from blkid's probe (UUID, LABEL, VERSION), which the backup
has already run. LUKS1 has no JSON: its few header fields are read from `luksDump`'s
"Name: value" lines.

A passphrase is handed to cryptsetup on its standard input (--key-file -), never on a command
line, never logged.
"""

from __future__ import annotations

import json
import os
import re

from ..errors import RestoreError
from ..layout import LuksContainer
from ..system import first_line, output, run

TOOLS = ("cryptsetup", "blkid")  # run here; the rescue image carries it

_LUKS1_FIELD = re.compile(r"^(?P<key>[A-Za-z ]+):\s*(?P<value>.*?)\s*$", re.M)


def parse_luks2(metadata: str, uuid: str, label: str = "") -> dict:
    """The container's facts from LUKS2 JSON metadata: cipher, key size (bits), PBKDF, hash,
    payload offset (bytes) and encryption sector size, from its first crypt segment and the
    first key slot."""
    try:
        data = json.loads(metadata)
        segment = next(s for _, s in sorted(data["segments"].items(), key=lambda i: int(i[0]))
                       if s.get("type") == "crypt")
        slots = [s for _, s in sorted(data["keyslots"].items(), key=lambda i: int(i[0]))]
    except (ValueError, KeyError, StopIteration, AttributeError, TypeError) as exc:
        raise RestoreError(f"The LUKS2 metadata of {uuid} cannot be read ({exc!r}).",
                           "Run 'cryptsetup luksDump' on it in the shell.") from None
    slot = slots[0] if slots else {}
    kdf = slot.get("kdf", {})
    return {"version": 2, "cipher": segment.get("encryption", ""),
            "key_size": int(slot.get("key_size", 0)) * 8,
            "payload_offset": int(segment.get("offset", 0)),
            "sector_size": int(segment.get("sector_size", 512)),
            "pbkdf": kdf.get("type", ""), "hash": kdf.get("hash", "") or
            slot.get("af", {}).get("hash", ""), "uuid": uuid, "label": label}


def parse_luks1(dump: str) -> dict:
    """The container's facts from LUKS1's `luksDump` text."""
    fields = {m["key"].strip(): m["value"] for m in _LUKS1_FIELD.finditer(dump)}
    try:
        return {"version": 1, "cipher": f"{fields['Cipher name']}-{fields['Cipher mode']}",
                "key_size": int(fields["MK bits"]),
                "payload_offset": int(fields["Payload offset"]) * 512,
                "sector_size": 512, "pbkdf": "pbkdf2", "hash": fields["Hash spec"],
                "uuid": fields["UUID"], "label": ""}
    except (KeyError, ValueError) as exc:
        raise RestoreError(f"The LUKS1 header dump cannot be read (no {exc}).",
                           "Run 'cryptsetup luksDump' on it in the shell.") from None


def identity(device: str) -> dict[str, str]:
    """blkid's VERSION, UUID and LABEL of a LUKS header (the JSON metadata lacks them)."""
    text = output(["blkid", "-p", "-o", "export", device], f"probe the LUKS header of {device}")
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key: values.get(key.upper(), "") for key in ("version", "uuid", "label")}


def open_mapping(device: str) -> str:
    """The name of the device-mapper mapping that has device open as a LUKS container ("" when
    none): a holder of it whose dm uuid starts with CRYPT-LUKS."""
    block = os.path.basename(os.path.realpath(device))
    holders = f"/sys/class/block/{block}/holders"
    for holder in sorted(os.listdir(holders)) if os.path.isdir(holders) else []:
        try:
            with open(f"{holders}/{holder}/dm/uuid") as f:
                dm_uuid = f.read().strip()
            with open(f"{holders}/{holder}/dm/name") as f:
                name = f.read().strip()
        except OSError:
            continue
        if dm_uuid.startswith("CRYPT-LUKS"):
            return name
    return ""


def read_container(device: str, on: str, name: str, size: int) -> LuksContainer:
    """A container as the set records it."""
    found = identity(device)
    version, uuid, label = found["version"], found["uuid"], found["label"]
    if version == "2":
        facts = parse_luks2(output(["cryptsetup", "luksDump", "--dump-json-metadata", device],
                                   f"read the LUKS2 metadata of {device}"), uuid, label)
    else:
        facts = parse_luks1(output(["cryptsetup", "luksDump", device],
                                   f"read the LUKS header of {device}"))
    return LuksContainer(device=device, on=on, name=name, size=size, **facts)


def format_container(container: LuksContainer, device: str, passphrase: str) -> None:
    """luksFormat with the original's UUID, version, cipher, key size, hash and label; the
    passphrase on standard input."""
    command = ["cryptsetup", "luksFormat", "--batch-mode", "--type", f"luks{container.version}",
               "--uuid", container.uuid, "--cipher", container.cipher,
               "--key-size", str(container.key_size), "--key-file", "-"]
    if container.hash:
        command += ["--hash", container.hash]
    if container.version == 2:
        if container.pbkdf:
            command += ["--pbkdf", container.pbkdf]
        if container.label:
            command += ["--label", container.label]
        if container.sector_size:
            command += ["--sector-size", str(container.sector_size)]
    run([*command, device], f"format {device} as LUKS{container.version} {container.uuid}",
        input=passphrase.encode())


def open_container(device: str, name: str, passphrase: str, read_only: bool = False) -> str:
    """Opens it as /dev/mapper/NAME; returns that path. A wrong passphrase is said so."""
    proc = run(["cryptsetup", "open", *(["--readonly"] if read_only else []), "--key-file", "-",
                device, name], f"open LUKS {device} as {name}", input=passphrase.encode(),
               check=False)
    if proc.returncode == 2:  # cryptsetup's "no key available with this passphrase"
        raise RestoreError(f"The passphrase does not open the LUKS container {device}.",
                           "Give its passphrase again.")
    if proc.returncode != 0:
        raise RestoreError(f"Could not open LUKS {device} as {name}: "
                           f"{first_line(proc.stderr) or proc.returncode}.",
                           "The log has the full output.")
    return f"/dev/mapper/{name}"


def close_container(name: str) -> None:
    run(["cryptsetup", "close", name], f"close LUKS mapping {name}", check=False)
