"""One disk's layout as a bar: each partition as wide as its share of the disk.

Display only. It takes plain data (BarSegment: label, size, used, style) so the start screen
(the set's disks) and the disk-mapping editor (an original and a new layout) feed it alike.
Under the bar, each partition gets its label and its size and use, or a shorter form of them
where it is narrow ("/home", "8 GiB"), never a cut that reads as something else.

    ext4 /                      ext4 /home     swap
    ##########..................#####..........::::::
    150 MiB, 1.5 MiB used       70 MiB, 2 MiB   32 MiB

Only ASCII is drawn; the colours come from the component classes, so the Linux-console theme
needs no glyph the VGA font lacks. Without colour (a serial terminal) each kind of partition
has a character of its own (widgets.glyphs: "#" used, "-" unused, "~" swap, "." free).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Static

from console.core.layout import GPT_BIOS_BOOT, GPT_ESP, Disk, Filesystem
from console.core.planning.resize import Resized
from console.core.units import size, whole_size
from widgets.glyphs import glyphs_of

STYLES = ("fs", "swap", "boot", "raw", "free", "other")


@dataclass(frozen=True)
class BarSegment:
    """A stretch of a disk: a partition (label "ext4 /") or free space (style "free")."""

    label: str
    size: int  # bytes
    used: int | None = None  # bytes in use, None where it means nothing (swap, free)
    style: str = "fs"  # one of STYLES
    note: str = ""  # said under the bar instead of size and use ("20 GiB -> 35 GiB")

    def detail(self) -> str:
        if self.note:
            return self.note
        if self.used is None:
            return size(self.size)
        return f"{size(self.size)}, {size(self.used)} used"

    def labels(self) -> list[str]:
        """The label, then shorter forms for a narrow segment: "ext4 /home", "/home"."""
        return [self.label, self.label.rsplit(" ", 1)[-1]]

    def details(self) -> list[str]:
        """detail(), then shorter forms: the new size alone or the size without the use, then
        the size in whole units."""
        whole = whole_size(self.size)
        if self.note:
            return [self.note, self.note.rsplit("->", 1)[-1], whole]
        return [self.detail(), size(self.size), whole]


def widths(sizes: list[int], total_width: int, minimum: int = 1) -> list[int]:
    """Cell widths proportional to sizes, at least `minimum` each where the width allows (else
    1), summing to total_width where it can."""
    if not sizes:
        return []
    total = sum(sizes) or 1
    width = max(total_width, len(sizes))
    if minimum * len(sizes) > width:
        minimum = 1
    exact = [s * width / total for s in sizes]
    cells = [max(minimum, int(e)) for e in exact]
    # Hand out what is left by largest remainder; take back from the widest when over.
    order = sorted(range(len(sizes)), key=lambda i: exact[i] - int(exact[i]), reverse=True)
    i = 0
    while sum(cells) < width:
        cells[order[i % len(order)]] += 1
        i += 1
    while sum(cells) > width:
        widest = max(range(len(cells)), key=lambda k: cells[k])
        cells[widest] -= 1
    return cells


def resized_segments(resized: Resized, filesystems: list[Filesystem]) -> list[BarSegment]:
    """The segments of a new layout; a partition whose size changed says its old and new size
    ("30.0 GiB->90.0 GiB") instead of its size and use."""
    notes = {d.number: f"{size(d.old_size)}->{size(d.new_size)}"
             for d in resized.decisions if d.new_size != d.old_size}
    return disk_segments(resized.disk, filesystems, notes)


class PartitionBar(Widget):
    """A disk drawn as a bar across the widget's width."""

    DEFAULT_CSS = """
    PartitionBar {
        height: 4;
        width: 1fr;
    }
    PartitionBar > .partition-bar--title { text-style: bold; }
    PartitionBar > .partition-bar--fs { background: $primary; color: $text; }
    PartitionBar > .partition-bar--fs-used { background: $secondary; color: $text; }
    PartitionBar > .partition-bar--swap { background: $warning; color: $background; }
    PartitionBar > .partition-bar--boot { background: $accent; color: $background; }
    PartitionBar > .partition-bar--raw { background: $accent; color: $background; }
    PartitionBar > .partition-bar--other { background: $panel; color: $text; }
    PartitionBar > .partition-bar--free { background: $background; color: $text-muted; }
    PartitionBar > .partition-bar--detail { color: $text-muted; }
    """

    COMPONENT_CLASSES = {"partition-bar--title", "partition-bar--detail",
                         "partition-bar--fs-used", *(f"partition-bar--{s}" for s in STYLES)}

    def __init__(self, title: str, segments: list[BarSegment], *, min_cells: int = 1,
                 details: bool = True, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.title = title  # "": no title line
        self.segments = list(segments)
        self.min_cells = min_cells  # a narrow partition still gets room for its label
        self.details = details  # the line of sizes under the bar

    def update(self, title: str, segments: list[BarSegment]) -> None:
        self.title = title
        self.segments = list(segments)
        self.refresh()

    def _style(self, name: str):
        return self.get_component_rich_style(f"partition-bar--{name}", partial=True)

    def render(self) -> Text:
        segments = self.segments
        cells = widths([s.size for s in segments], max(1, self.size.width), self.min_cells)
        labels, bar, details = Text(), Text(), Text()
        glyphs = glyphs_of(self)
        for segment, cell in zip(segments, cells):
            style = segment.style if segment.style in STYLES else "other"
            labels.append(fit_text(segment.labels(), cell))
            used = 0
            if segment.used is not None and segment.size:
                used = min(cell, round(cell * segment.used / segment.size))
                if segment.used and not used:
                    used = 1  # something is there: show it
            if style == "fs" and used:
                bar.append(glyphs.fill("fs-used") * used, self._style("fs-used"))
            bar.append(glyphs.fill(style) * (cell - used), self._style(style))
            details.append(fit_text(segment.details(), cell), self._style("detail"))
        text = Text(no_wrap=True, overflow="crop")
        if self.title:
            text.append(self.title, self._style("title"))
            text.append("\n")
        text.append_text(labels)
        text.append("\n")
        text.append_text(bar)
        if self.details:
            text.append("\n")
            text.append_text(details)
        return text


class LayoutComparison(Vertical):
    """An original disk's layout over its new one: a heading that says where the disk goes,
    then two labelled rows, "Original" and "New", each bar as wide as the row and each
    partition as wide as its share of its own disk (on one scale a disk five times larger
    would leave the original too narrow to read). Labels and bars only: the sizes, old and
    new, are in the heading and the partition list under it, and 80x24 has no line to spare.
    A narrow partition still gets room for a short label ("swap"). With the class
    "collapsed" only the heading shows."""

    DEFAULT_CSS = """
    LayoutComparison { height: auto; }
    LayoutComparison > .layout-heading { height: auto; text-style: bold; }
    LayoutComparison > Horizontal { height: 2; }
    LayoutComparison .layout-row-label { width: 9; color: $text-muted; }
    LayoutComparison PartitionBar { height: 2; }
    LayoutComparison.collapsed > Horizontal { display: none; }
    """

    ROW_LABELS = ("Original", "New")
    MIN_CELLS = 6  # "swap" and a space, or the start of a longer label and "~"

    def __init__(self, heading: str, original: list[BarSegment], new: list[BarSegment],
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.heading = Static(heading, classes="layout-heading", markup=False)
        self.original = PartitionBar("", original, min_cells=self.MIN_CELLS, details=False,
                                     classes="original")
        self.new = PartitionBar("", new, min_cells=self.MIN_CELLS, details=False, classes="new")

    def update(self, heading: str, original: list[BarSegment], new: list[BarSegment]) -> None:
        self.heading.update(heading)
        self.original.update("", original)
        self.new.update("", new)

    def compose(self) -> ComposeResult:
        yield self.heading
        for label, bar in zip(self.ROW_LABELS, (self.original, self.new)):
            with Horizontal():
                yield Static(label, classes="layout-row-label")
                yield bar


def fit_text(texts: list[str], width: int) -> str:
    """The first of texts (longest first) that fits width with a space before the next segment,
    else the last one cut and ended with '~' so that "ext4 /home" never reads as "ext4 /";
    nothing where even that would say too little, or in a sliver (it would read as part of its
    neighbour)."""
    for text in texts:
        if len(text) < width and width >= 4:
            return text.ljust(width)
    if width < 6:
        return " " * width
    return (texts[-1][: width - 2].rstrip() + "~").ljust(width)


def disk_segments(disk: Disk, filesystems: list[Filesystem],
                  notes: dict[int, str] | None = None) -> list[BarSegment]:
    """The segments of a disk of the set: partitions in disk order, and free stretches of more
    than 1% of the disk (alignment gaps would only clutter the bar). `notes` (by partition
    number) replace the size and use under the bar."""
    notes = notes or {}
    by_number = {fs.partition: fs for fs in filesystems if fs.disk == disk.name}
    segments: list[BarSegment] = []
    position = 0
    for part in sorted((p for p in disk.partitions if p.kind != "extended"),
                       key=lambda p: p.start):
        if part.start - position > disk.size // 100:
            segments.append(BarSegment("free", part.start - position, style="free"))
        position = part.start + part.size
        fs = by_number.get(part.number)
        note = notes.get(part.number, "")
        boot = part.type_uuid.upper() in (GPT_BIOS_BOOT, GPT_ESP) or "bios_grub" in part.flags
        if fs is not None and fs.type == "swap":
            segments.append(BarSegment("swap", part.size, style="swap", note=note))
        elif fs is not None and fs.archive is not None and fs.archive.kind == "tar":
            segments.append(BarSegment(fs.title, part.size, used=fs.bytes_used,
                                       style="boot" if boot else "fs", note=note))
        elif boot:
            label = "EFI" if part.type_uuid.upper() == GPT_ESP else "BIOS boot"
            segments.append(BarSegment(label, part.size, style="boot", note=note))
        else:
            segments.append(BarSegment(fs.title if fs else f"partition {part.number}",
                                       part.size, style="raw" if fs else "other", note=note))
    if disk.size - position > disk.size // 100:
        segments.append(BarSegment("free", disk.size - position, style="free"))
    return segments
