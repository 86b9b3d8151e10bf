"""The system tools the core runs, as its modules declare them (each module that runs a tool
names it in TOOLS; tests/unit/test_declared_tools.py reads the calls and holds them to it)."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import console.core


def tool_modules() -> list[ModuleType]:
    """Every module of the core that declares tools, but the rescue builder's own (they run on
    the build machine)."""
    modules = []
    for info in pkgutil.walk_packages(console.core.__path__, "console.core."):
        if info.name.startswith(__package__):
            continue
        module = importlib.import_module(info.name)
        if getattr(module, "TOOLS", None):
            modules.append(module)
    return modules


def declared_tools() -> set[str]:
    return {tool for module in tool_modules() for tool in module.TOOLS}
