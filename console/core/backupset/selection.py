"""What to restore of one filesystem: whole subtrees and single entries, included or excluded.

A selection is a small set of rules, path -> included or not. An entry's state is that of the
nearest rule at or above it; without one, it is not selected. The rules are kept minimal: a rule
always differs from the state its parent context gives (so rules alternate down any branch and
every top-level rule is an inclusion), and choosing a subtree drops the rules inside it. That
makes the totals plain arithmetic on the catalog's per-directory totals,

    selected = sum of totals(included rule) - sum of totals(excluded rule),

and the SQL condition that picks the selected members a nesting of path ranges.
"""

from __future__ import annotations

import bisect
from typing import Iterator

from ..errors import RestoreError
from .catalog import Catalog, subtree_condition
from .entries import ALL, NONE, SOME, Totals

# SQLite allows 32766 parameters in one statement; each rule uses five.
MAX_RULES = 6000


def ancestors(path: bytes) -> Iterator[bytes]:
    """path's strict ancestors, nearest first: /a/b -> /a, /."""
    while path != b"/":
        path = path.rpartition(b"/")[0] or b"/"
        yield path


def _below(prefix_of: bytes) -> bytes:
    """What every path strictly below prefix_of starts with."""
    return b"/" if prefix_of == b"/" else prefix_of + b"/"


class Selection:
    """The chosen entries of filesystem `fs` (paths as the catalog stores them)."""

    def __init__(self, fs: int):
        self.fs = fs
        self._rules: dict[bytes, bool] = {}
        self._sorted: list[bytes] = []  # the rules' paths, sorted, for "any rule below?"

    # ---- changing it ----

    def include(self, path: bytes) -> None:
        """Selects path and everything below it."""
        self._set(path, True)

    def exclude(self, path: bytes) -> None:
        """Deselects path and everything below it."""
        self._set(path, False)

    def toggle(self, path: bytes) -> None:
        """All selected -> none; none or some -> all."""
        self._set(path, self.mark(path) != ALL)

    def clear(self) -> None:
        self._rules.clear()
        self._sorted.clear()

    def _set(self, path: bytes, value: bool) -> None:
        for inner in self._rules_below(path):
            del self._rules[inner]
        self._sorted = [p for p in self._sorted if p in self._rules]
        if self._context(path) == value:
            if path in self._rules:
                del self._rules[path]
                self._sorted.remove(path)
        else:
            if path not in self._rules:
                bisect.insort(self._sorted, path)
            self._rules[path] = value
        if len(self._rules) > MAX_RULES:
            raise RestoreError(f"The selection has more than {MAX_RULES} separate choices.",
                               "Select whole directories instead of many single files.")

    # ---- reading it ----

    @property
    def rules(self) -> list[tuple[bytes, bool]]:
        """(path, included) of every rule, sorted by path."""
        return [(p, self._rules[p]) for p in self._sorted]

    def __bool__(self) -> bool:
        return any(self._rules.values())

    def _context(self, path: bytes) -> bool:
        """The state path gets from its nearest strict ancestor rule."""
        for up in ancestors(path):
            if up in self._rules:
                return self._rules[up]
        return False

    def is_selected(self, path: bytes) -> bool:
        rule = self._rules.get(path)
        return self._context(path) if rule is None else rule

    def _rules_below(self, path: bytes) -> list[bytes]:
        prefix = _below(path)
        start = bisect.bisect_left(self._sorted, prefix)
        found = []
        for p in self._sorted[start:]:
            if not p.startswith(prefix):
                break
            if p != path:
                found.append(p)
        return found

    def mark(self, path: bytes) -> str:
        """ALL, SOME or NONE for path and what lies below it (a file has nothing below)."""
        prefix = _below(path)
        i = bisect.bisect_left(self._sorted, prefix)
        if i < len(self._sorted) and self._sorted[i] == path:  # only for "/" (prefix == path)
            i += 1
        if i < len(self._sorted) and self._sorted[i].startswith(prefix):
            return SOME
        return ALL if self.is_selected(path) else NONE

    # ---- with the catalog ----

    def totals(self, catalog: Catalog) -> Totals:
        """Entries, non-directory entries and file bytes selected: one lookup per rule."""
        total = Totals()
        for path, included in self._rules.items():
            part = catalog.totals(self.fs, path)
            total = total + part if included else total - part
        return total

    def conditions(self) -> list[tuple[str, list]]:
        """SQL conditions on members.path, one per top-level rule, that together pick exactly
        the selected members (their subtrees are disjoint)."""
        children: dict[bytes | None, list[bytes]] = {}
        for path in self._sorted:
            nearest = next((up for up in ancestors(path) if up in self._rules), None)
            children.setdefault(nearest, []).append(path)

        def state_equal(path: bytes) -> tuple[str, list]:
            # Below path and with path's state: its range minus its child rules' such parts.
            sql, params = subtree_condition(path)
            kids = children.get(path, [])
            if not kids:
                return sql, params
            parts = [state_equal(kid) for kid in kids]
            inner = " OR ".join(p for p, _ in parts)
            return (f"({sql} AND NOT ({inner}))",
                    params + [x for _, args in parts for x in args])

        return [state_equal(path) for path in children.get(None, [])]

    def __repr__(self) -> str:
        rules = ", ".join(f"{'+' if v else '-'}{p!r}" for p, v in self.rules)
        return f"Selection(fs={self.fs}, {rules})"
