"""The tree the rescue initramfs is packed from, as it is being filled: files copied from this
machine to the same path inside it, and the ELF files among them (their libraries come later)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

ELF_MAGIC = b"\x7fELF"
# Debian's merged /usr: the same paths lead to the same files inside the image as outside.
MERGED_USR = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}


@dataclass
class RescueImage:
    root: str
    kernel_version: str
    elf_files: list[str] = field(default_factory=list)  # paths inside the image

    def __post_init__(self) -> None:
        for name, target in MERGED_USR.items():
            os.makedirs(os.path.join(self.root, target), exist_ok=True)
            link = os.path.join(self.root, name)
            if not os.path.lexists(link):
                os.symlink(target, link)

    def inside(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def has(self, path: str) -> bool:
        return os.path.lexists(self.inside(path))

    def add_file(self, source: str, path: str | None = None) -> bool:
        """Copies source (its content, links followed) to path inside the image (the same path
        by default). False when it was there already."""
        path = path or source
        dest = self.inside(path)
        if os.path.lexists(dest):
            return False
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(source, dest)
        if is_elf(dest):
            self.elf_files.append(path)
        return True

    def add_symlink(self, target: str, path: str) -> None:
        dest = self.inside(path)
        if not os.path.lexists(dest):
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            os.symlink(target, dest)

    def write(self, path: str, text: str, mode: int = 0o644) -> None:
        dest = self.inside(path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w") as f:
            f.write(text)
        os.chmod(dest, mode)


def is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == ELF_MAGIC
    except OSError:
        return False


def tree_size(root: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total
