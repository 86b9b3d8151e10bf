"""The partition bar's arithmetic and the segments of a disk of the set."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from console.core.backupset.manifest import load_set
from widgets.partition_bar import BarSegment, disk_segments, fit_text, widths

WEB01 = str(Path(__file__).parent.parent / "functional" / "data" / "web-01")
GiB = 1024 ** 3


@given(st.lists(st.integers(min_value=0, max_value=10 ** 13), min_size=1, max_size=20),
       st.integers(min_value=1, max_value=300))
def test_widths_fill_the_bar_and_give_everything_a_cell(sizes, width):
    cells = widths(sizes, width)
    assert len(cells) == len(sizes)
    assert all(c >= 1 for c in cells)
    assert sum(cells) == max(width, len(sizes))


def test_widths_are_proportional():
    assert widths([30, 10], 40) == [30, 10]
    assert widths([1, 1, 2], 8) == [2, 2, 4]
    assert widths([1, 10 ** 6], 10) == [1, 9]  # a sliver still shows


def test_segments_of_a_disk_follow_its_partitions():
    backup_set = load_set(WEB01)
    sda = backup_set.disk("/dev/sda")
    segments = disk_segments(sda, backup_set.filesystems)
    assert [(s.label, s.style) for s in segments] == [
        ("BIOS boot", "boot"), ("ext4 /", "fs"), ("swap", "swap"), ("ext4 /home", "fs")]
    root = segments[1]
    assert root.size == 30 * GiB and root.used == backup_set.filesystem(2).bytes_used
    assert root.detail() == "30.0 GiB, 6.2 GiB used"
    assert segments[2].detail() == "2.0 GiB"


def test_free_space_of_more_than_one_percent_is_shown():
    backup_set = load_set(WEB01)
    sda = backup_set.disk("/dev/sda")
    sda.size += 4 * GiB  # the same partitions on a larger disk
    segments = disk_segments(sda, backup_set.filesystems)
    assert segments[-1] == BarSegment("free", 4 * GiB + 1024 ** 2, style="free")


async def test_an_original_and_a_new_layout_stand_in_labelled_rows_one_over_the_other():
    from textual.app import App

    from widgets.partition_bar import LayoutComparison

    original = [BarSegment("ext4 /", 30 * GiB, used=6 * GiB), BarSegment("swap", 10 * GiB,
                                                                          style="swap")]
    # On the new disk swap is a sliver (1/64 of the bar): it still gets room for its label.
    new = [BarSegment("ext4 /", 63 * GiB, used=6 * GiB, note="30.0 GiB->63.0 GiB"),
           BarSegment("swap", 1 * GiB, style="swap")]

    class Show(App):
        def compose(self):
            yield LayoutComparison("> sda 40.0 GiB -> sdc 64.0 GiB", original, new)

    app = Show()
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        comparison = app.query_one(LayoutComparison)
        assert str(comparison.heading.render()) == "> sda 40.0 GiB -> sdc 64.0 GiB"
        # The new layout under the original, each row with its label on the left.
        assert comparison.new.region.y == comparison.original.region.bottom
        assert comparison.original.region.x == comparison.new.region.x >= len("Original")
        labels = [str(label.render()) for label in comparison.query(".layout-row-label")]
        assert labels == ["Original", "New"]
        old_rows = comparison.original.render().plain.split("\n")
        new_rows = comparison.new.render().plain.split("\n")
        assert len(old_rows) == len(new_rows) == 2  # labels and bar: the sizes are elsewhere
        # Each bar fills the row; root is three quarters of the original.
        width = comparison.original.size.width
        assert width >= 70 and len(old_rows[1]) == width and len(new_rows[1]) == width
        root_cells = round(width * 3 / 4)
        assert old_rows[0].startswith("ext4 /") and old_rows[0][root_cells:].startswith("swap")
        assert new_rows[0].rstrip().endswith(" swap")


def test_a_narrow_segment_says_a_shorter_form_never_a_misleading_cut():
    home = BarSegment("ext4 /home", 8 * GiB, used=3 * GiB)
    assert fit_text(home.labels(), 7) == "/home  "
    assert fit_text(home.details(), 7) == "8 GiB  "
    assert fit_text(home.labels(), 6) == "/home "
    assert fit_text(["ext4 /srv/data"], 7) == "ext4~  "
    assert fit_text(["ext4 /srv/data"], 5) == "     "  # "ex~" would say too little
    grown = BarSegment("ext4 /", 190 * GiB, note="30.0 GiB->190.0 GiB")
    assert fit_text(grown.details(), 12) == "190.0 GiB   "
    assert fit_text(home.labels(), 3) == "   "  # a sliver says nothing
