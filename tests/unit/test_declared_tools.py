"""Every system tool the core runs is declared in its module's TOOLS: the rescue image is built
from these declarations (console/core/rescue/tools.py), so a tool run but not declared would be
missing there. The calls are read from the source, as written."""

from __future__ import annotations

import ast
import pathlib

import pytest

import console.core
from console.core.rescue.tools import declared_tools, tool_modules

CORE = pathlib.Path(console.core.__file__).parent
RUNNERS = {"run", "output", "require", "Popen", "call", "check_call", "check_output"}


class Unresolved(Exception):
    pass


class ToolsRun:
    """The tools one module's source runs: the first word of every command handed to a runner."""

    def __init__(self, tree: ast.Module):
        self.assigned: dict[str, list[ast.expr]] = {}
        self.returned: dict[str, list[ast.expr]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.assigned.setdefault(target.id, []).append(node.value)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.returned[node.name] = [n.value for n in ast.walk(node)
                                            if isinstance(n, ast.Return) and n.value is not None]
        self.tools: set[str] = set()
        self.prefixes: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in RUNNERS and node.args:
                self.command(node.args[0], set())

    def command(self, node: ast.expr, seen: set[str]) -> None:
        if isinstance(node, ast.List):
            if not node.elts:
                raise Unresolved(ast.unparse(node))
            first = node.elts[0]
            if isinstance(first, ast.Starred):
                self.command(first.value, seen)
            else:
                self.word(first, seen)
        elif isinstance(node, ast.Name) and node.id not in seen:
            for value in self.assigned.get(node.id) or _fail(node):
                self.command(value, seen | {node.id})
        elif isinstance(node, ast.Call) and _name(node.func) in self.returned:
            for value in self.returned[_name(node.func)]:
                self.command(value, seen)
        else:
            self.word(node, seen)

    def word(self, node: ast.expr, seen: set[str]) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            self.tools.add(node.value)
        elif isinstance(node, ast.JoinedStr) and isinstance(node.values[0], ast.Constant):
            self.prefixes.add(node.values[0].value)
        elif isinstance(node, ast.Call) and _name(node.func) == "require":
            self.word(node.args[0], seen)
        elif isinstance(node, ast.Attribute) and ast.unparse(node) == "sys.executable":
            pass  # python itself: the rescue image has it
        elif isinstance(node, ast.Name) and node.id not in seen:
            for value in self.assigned.get(node.id) or _fail(node):
                self.word(value, seen | {node.id})
        else:
            _fail(node)


def _name(func: ast.expr) -> str:
    """run(...), Popen(...), subprocess.run(...): not a method of some other object."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and ast.unparse(func.value) == "subprocess":
        return func.attr
    return ""


def _fail(node: ast.expr):
    raise Unresolved(ast.unparse(node))


def core_sources() -> list[pathlib.Path]:
    return sorted(p for p in CORE.rglob("*.py") if p.name != "system.py")


def module_name(path: pathlib.Path) -> str:
    return "console.core." + ".".join(path.relative_to(CORE).with_suffix("").parts)


@pytest.mark.parametrize("path", core_sources(), ids=lambda p: str(p.relative_to(CORE)))
def test_every_tool_a_core_module_runs_is_declared_in_its_tools(path):
    try:
        found = ToolsRun(ast.parse(path.read_text()))
    except Unresolved as exc:
        pytest.fail(f"{path.name} runs a command whose tool cannot be read from the source: {exc}"
                    " (name the tool literally)")
    module = __import__(module_name(path), fromlist=["TOOLS"])
    declared = set(getattr(module, "TOOLS", ()))
    missing = found.tools - declared
    assert not missing, f"{path.name} runs {sorted(missing)} but its TOOLS does not name them"
    for prefix in found.prefixes:
        assert any(t.startswith(prefix) for t in declared), \
            f"{path.name} runs a {prefix}* tool but its TOOLS names none"
    stale = {t for t in declared - found.tools
             if not any(t.startswith(prefix) for prefix in found.prefixes)}
    assert not stale, f"{path.name} declares {sorted(stale)} in TOOLS but runs none of them"


def test_the_rescue_collects_the_tools_of_every_module_that_declares_some():
    tools = declared_tools()
    assert {"tar", "sfdisk", "mount", "mkfs.xfs", "blkid"} <= tools
    modules = {m.__name__ for m in tool_modules()}
    assert "console.core.disks.mkfs" in modules
    for module in tool_modules():
        assert set(module.TOOLS) <= tools


def test_the_scan_sees_a_tool_run_through_a_variable_and_a_command_builder():
    source = (
        "def build(x):\n"
        "    cmd = ['mkfs.vfat', '-n']\n"
        "    return [*cmd, x]\n"
        "def go():\n"
        "    run(build('d'), 'make it')\n"
        "    proc = Popen([require('zstd'), '-d'])\n"
        "    run([f'fsck.{kind}', dev], 'check')\n")
    found = ToolsRun(ast.parse(source))
    assert found.tools == {"mkfs.vfat", "zstd"}
    assert found.prefixes == {"fsck."}
