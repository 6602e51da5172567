"""The regions of a table to repaint after cells changed: only those cells, in as few regions
as they make. Each region costs textual a repaint region to track and a span to send; a tick
changes the uptime of every row in view, one above the other (issue 14: the idle dashboard)."""

from __future__ import annotations

from textual.geometry import Region


def stacked(cells: list[tuple[int, int, int]]) -> list[Region]:
    """The regions of cells (x, width, y), a run of cells one above the other in a column
    made one region: a tick's ~30 uptimes are one region to refresh, not 30, and still
    nothing but the changed cells."""
    regions: list[Region] = []
    for x, width, y in sorted(set(cells)):
        last = regions[-1] if regions else None
        if last is not None and (last.x, last.width, last.bottom) == (x, width, y):
            regions[-1] = Region(x, last.y, width, last.height + 1)
        else:
            regions.append(Region(x, y, width, 1))
    return regions
