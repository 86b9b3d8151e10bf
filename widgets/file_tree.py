"""A file tree for a catalog of any size, on Textual's line API.

`FileTree` is a ScrollView that draws only the lines on screen, asking its model (a
console.core.backupset.settree.SetTrees, or anything with the same methods) for exactly those
rows: no widget and no tree node per file, so a directory of 100,000 entries opens as fast as
one of ten. `FileTreePanel` adds the search field (/) and the status line (what is selected).

Keys: up/down/page up/page down/home/end move, space selects or deselects (a directory with
everything below it), enter opens or closes a directory, right opens, left closes (or goes to
the parent), / searches, n and N jump to the next and previous match.

The widget does no I/O of its own: everything it shows comes from the model's methods.
"""

from __future__ import annotations

import datetime
import os
from typing import Protocol

from rich.segment import Segment
from rich.style import Style
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import Input, Static

from console.core.backupset.entries import ALL, SOME, Row, SearchState, Totals
from console.core.units import count, day, number, size
from widgets.glyphs import glyphs_of

MARKS = {ALL: "[x]", SOME: "[-]"}
NO_MARK = "[ ]"
SIZE_WIDTH = 10
DATE_WIDTH = 12
SEARCH_DELAY = 0.25  # seconds of no typing before a search runs


class TreeSource(Protocol):
    """What the tree needs from its model (backupset.settree.SetTrees and
    backupset.filetree.TreeModel provide it)."""

    search_state: SearchState

    @property
    def height(self) -> int: ...
    def rows(self, start: int, count: int) -> list[Row]: ...
    def row(self, y: int) -> Row | None: ...
    def parent_row(self, y: int) -> int: ...
    def expand(self, y: int) -> bool: ...
    def collapse(self, y: int) -> bool: ...
    def toggle_expanded(self, y: int) -> bool: ...
    def toggle_selected(self, y: int) -> None: ...
    def totals(self) -> Totals: ...
    def all_totals(self) -> Totals: ...
    def search(self, pattern: str) -> SearchState: ...
    def next_match(self, y: int, backwards: bool = False,
                   include_current: bool = False) -> int | None: ...


def shown_name(name: bytes) -> str:
    """A name as text: bytes that are not UTF-8 are shown as \\xNN."""
    return os.fsdecode(name).encode("utf-8", "backslashreplace").decode()


def date_text(mtime_ns: int) -> str:
    return day(datetime.datetime.fromtimestamp(mtime_ns / 1e9))


def selection_text(selected: Totals) -> str:
    if not selected.entries:
        return "Nothing selected"
    return f"{count(selected.entries, 'entry')}, {size(selected.bytes)} selected"


class FileTree(ScrollView, can_focus=True):
    """The lines of the tree; see the module's docstring for the keys."""

    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("space", "toggle_selected", "Select"),
        Binding("enter", "toggle_expanded", "Open"),  # or close: short for 80 columns
        Binding("right", "expand", "Open", show=False),
        Binding("left", "collapse", "Close", show=False),
        Binding("n", "next_match", "Next match", show=False),
        Binding("N", "previous_match", "Previous match", show=False),
    ]

    COMPONENT_CLASSES = {
        "file-tree--cursor",
        "file-tree--mark",
        "file-tree--directory",
        "file-tree--detail",
        "file-tree--match",
    }

    DEFAULT_CSS = """
    FileTree {
        overflow-x: hidden;
        overflow-y: auto;
        height: 1fr;
        & > .file-tree--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
        & > .file-tree--mark { color: $success; text-style: bold; }
        & > .file-tree--directory { color: $accent; text-style: bold; }
        & > .file-tree--detail { color: $text-muted; }
        & > .file-tree--match { text-style: reverse; }
    }
    FileTree:blur > .file-tree--cursor { background: $block-cursor-blurred-background; text-style: none; }
    """

    cursor: reactive[int] = reactive(0, init=False)

    class SelectionChanged(Message):
        """The selection changed; `selected` is what it holds now."""

        def __init__(self, tree: "FileTree", selected: Totals) -> None:
            super().__init__()
            self.tree = tree
            self.selected = selected

        @property
        def control(self) -> "FileTree":
            return self.tree

    class CursorMoved(Message):
        def __init__(self, tree: "FileTree", row: Row | None) -> None:
            super().__init__()
            self.tree = tree
            self.row = row

        @property
        def control(self) -> "FileTree":
            return self.tree

    def __init__(self, model: TreeSource, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.model = model
        self._window: tuple[int, list[Row]] = (0, [])
        self._match_paths: frozenset[bytes] = frozenset()

    # ---- model changes ----

    def set_model(self, model: TreeSource) -> None:
        """Shows another tree (another filesystem)."""
        self.model = model
        self._match_paths = frozenset()
        self.cursor = 0
        self.scroll_to(y=0, animate=False, immediate=True)
        self._reshaped()
        self._selection_changed()

    def _reshaped(self) -> None:
        self.virtual_size = Size(0, self.model.height)
        self.cursor = min(self.cursor, self.model.height - 1)
        self.refresh()

    def _selection_changed(self) -> None:
        self.refresh()
        self.post_message(self.SelectionChanged(self, self.model.totals()))

    def on_mount(self) -> None:
        self._reshaped()

    # ---- drawing ----

    def render_lines(self, crop):
        # One query for the whole visible window, instead of one per line.
        start = self.scroll_offset.y
        self._window = (start, self.model.rows(start, self.scrollable_content_region.height))
        return super().render_lines(crop)

    def _row_at(self, index: int) -> Row | None:
        start, rows = self._window
        if start <= index < start + len(rows):
            return rows[index - start]
        return self.model.row(index)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = self.scroll_offset.y + y
        base = self.rich_style
        row = self._row_at(index) if index < self.model.height else None
        if row is None:
            return Strip.blank(width, base)
        cursor = index == self.cursor
        line_style = base + self.get_component_rich_style("file-tree--cursor") if cursor else base

        def styled(name: str) -> Style:
            return line_style if cursor else base + self.get_component_rich_style(name)

        entry = row.entry
        mark = MARKS.get(row.mark, NO_MARK)
        indent = "  " * row.depth
        glyphs = glyphs_of(self)
        arrow = (glyphs.tree_open if row.expanded else glyphs.tree_closed) if row.is_dir else "  "
        if row.title:
            name = row.title
        else:
            name = shown_name(entry.name) + ("/" if row.is_dir else "")
            if entry.kind == "symlink" and entry.link is not None:
                name += " -> " + shown_name(entry.link)
        show_date = width >= 50
        details = f" {size(row.bytes):>{SIZE_WIDTH}}"
        if show_date:
            details += f"  {date_text(entry.mtime_ns):<{DATE_WIDTH - 1}}"
        room = width - len(mark) - 1 - len(indent) - len(arrow) - len(details)
        if room < 1:
            details, room = "", width - len(mark) - 1 - len(indent) - len(arrow)
        if len(name) > room:
            name = name[: max(0, room - 1)] + "…" if room > 0 else ""
        name_style = styled("file-tree--directory") if row.is_dir else line_style
        if row.path in self._match_paths and not cursor:
            name_style += self.get_component_rich_style("file-tree--match")
        segments = [
            Segment(mark, styled("file-tree--mark") if row.mark in MARKS else line_style),
            Segment(" " + indent + arrow, line_style),
            Segment(name, name_style),
            Segment(" " * max(0, room - len(name)), line_style),
            Segment(details, styled("file-tree--detail")),
        ]
        return Strip(segments).adjust_cell_length(width, line_style)

    # ---- the cursor ----

    def validate_cursor(self, cursor: int) -> int:
        return max(0, min(cursor, self.model.height - 1))

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_line(old)
        self.refresh_line(new)
        height = self.scrollable_content_region.height
        top = self.scroll_offset.y
        if new < top:
            self._scroll_to_row(new)
        elif height and new >= top + height:
            self._scroll_to_row(new - height + 1)
        self.post_message(self.CursorMoved(self, self.model.row(new)))

    def move_to(self, y: int, center: bool = False) -> None:
        self.cursor = y
        if center:
            height = self.scrollable_content_region.height
            self._scroll_to_row(max(0, self.cursor - height // 2))

    def _scroll_to_row(self, y: int) -> None:
        # Forced: a tree that has just grown (a search opened the way to its match) gets the
        # scroll bar that allows scrolling only at the next layout, and is not scrolled before.
        self.scroll_to(y=y, animate=False, immediate=True, force=True)

    @property
    def cursor_row(self) -> Row | None:
        return self.model.row(self.cursor)

    def action_cursor_up(self) -> None:
        self.cursor -= 1

    def action_cursor_down(self) -> None:
        self.cursor += 1

    def action_page_up(self) -> None:
        self.cursor -= max(1, self.scrollable_content_region.height - 1)

    def action_page_down(self) -> None:
        self.cursor += max(1, self.scrollable_content_region.height - 1)

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        self.cursor = self.model.height - 1

    def on_click(self, event: events.Click) -> None:
        y = self.scroll_offset.y + event.y
        if y < self.model.height:
            self.cursor = y

    # ---- opening, closing, selecting ----

    def action_toggle_expanded(self) -> None:
        if self.model.toggle_expanded(self.cursor):
            self._reshaped()

    def action_expand(self) -> None:
        row = self.cursor_row
        if row is None or not row.is_dir:
            return
        if not row.expanded:
            self.model.expand(self.cursor)
            self._reshaped()
        elif row.children:
            self.cursor += 1  # already open: step inside

    def action_collapse(self) -> None:
        row = self.cursor_row
        if row is not None and row.expanded:
            self.model.collapse(self.cursor)
            self._reshaped()
        else:
            self.cursor = self.model.parent_row(self.cursor)

    def action_toggle_selected(self) -> None:
        self.model.toggle_selected(self.cursor)
        self._selection_changed()

    # ---- search ----

    def search(self, pattern: str) -> SearchState:
        """Finds pattern and moves to the first match at or after the cursor."""
        state = self.model.search(pattern)
        self._match_paths = frozenset(state.paths)
        if state.matches:
            y = self.model.next_match(self.cursor, include_current=True)
            self._reshaped()
            if y is not None:
                self.move_to(y, center=True)
        self.refresh()
        return state

    def action_next_match(self) -> None:
        self._jump(backwards=False)

    def action_previous_match(self) -> None:
        self._jump(backwards=True)

    def _jump(self, backwards: bool) -> None:
        y = self.model.next_match(self.cursor, backwards=backwards)
        if y is None:
            self.app.bell()
            return
        self._reshaped()
        self.move_to(y, center=True)


class FileTreePanel(Vertical):
    """The tree with its search field (opened with /) and a status line."""

    DEFAULT_CSS = """
    FileTreePanel {
        height: 1fr;
        & > Input { display: none; }
        & > Input.-searching { display: block; }
        & > .file-tree-status { height: 1; color: $text-muted; padding: 0 1; }
    }
    """

    BINDINGS = [Binding("slash", "search", "Search")]

    def __init__(self, model: TreeSource, *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._model = model
        self._timer: Timer | None = None
        self._search_note = ""

    def compose(self) -> ComposeResult:
        yield FileTree(self._model, id="file-tree")
        yield Input(placeholder="Search names: a part of a name, or a pattern like *.conf",
                    id="file-tree-search")
        yield Static("", classes="file-tree-status", id="file-tree-status")

    @property
    def tree(self) -> FileTree:
        return self.query_one(FileTree)

    def on_mount(self) -> None:
        self._show_status(self._model.totals())

    def set_model(self, model: TreeSource) -> None:
        self._model = model
        self._search_note = ""
        self.tree.set_model(model)

    def _show_status(self, selected: Totals) -> None:
        everything = self._model.all_totals()
        # "6 entries, 48.2 KiB selected of 1,017": the noun once, so the search fits 80 columns
        of = number(everything.entries) if selected.entries else count(everything.entries,
                                                                         "entry")
        text = f"{selection_text(selected)} of {of} ({size(everything.bytes)})"
        if self._search_note:
            text += f" | {self._search_note}"
        self.query_one("#file-tree-status", Static).update(text)

    @on(FileTree.SelectionChanged)
    def _selection(self, event: FileTree.SelectionChanged) -> None:
        self._show_status(event.selected)

    def action_search(self) -> None:
        field = self.query_one(Input)
        field.add_class("-searching")
        field.focus()

    @on(Input.Changed, "#file-tree-search")
    def _typed(self, event: Input.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(SEARCH_DELAY, lambda: self.run_search(event.value))

    @on(Input.Submitted, "#file-tree-search")
    def _submitted(self, event: Input.Submitted) -> None:
        if self._timer is not None:
            self._timer.stop()
        if event.value != self._model.search_state.pattern:
            self.run_search(event.value)
        self.query_one(Input).remove_class("-searching")
        self.tree.focus()

    def run_search(self, pattern: str) -> None:
        state = self.tree.search(pattern)
        if not pattern:
            self._search_note = ""
        elif not state.matches:
            self._search_note = f"{pattern!r}: no match"
        else:
            matches = count(len(state.matches), "match")
            if state.more:
                matches = matches.replace(" ", "+ ", 1)
            self._search_note = f"{pattern!r}: {matches} (n/N)"
        self._show_status(self._model.totals())

    def on_key(self, event: events.Key) -> None:
        field = self.query_one(Input)
        if event.key == "escape" and field.has_focus:
            field.remove_class("-searching")
            self.tree.focus()
            event.stop()
