"""`procsup tui --screenshot FILE`: the dashboard saved as SVG (for the README), headless.

The cursor goes to the row whose log pane shows the most: a RUNNING instance with recent
output, both streams before one, more lines before fewer (not whichever row sorts first).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from procsup.control.protocol import ProtocolError

if TYPE_CHECKING:
    from procsup.tui.app import ProcsupApp

SCREENSHOT_SIZE = (130, 36)
RECENT_LINES = 200  # the backlog the choice is made on


def best_row(running: Iterable[str], lines: Iterable[dict[str, Any]]) -> str | None:
    """Of the `running` instances, the one whose recent output `lines` show best."""
    streams: dict[str, set[str]] = {name: set() for name in running}
    counts = dict.fromkeys(streams, 0)
    for item in lines:
        name = item.get("name")
        if name in streams:
            streams[name].add(str(item.get("stream")))
            counts[name] += 1
    chosen = [name for name, n in counts.items() if n]
    return max(chosen, key=lambda n: (len(streams[n]), counts[n]), default=None)


async def _choose_row(app: ProcsupApp) -> str | None:
    running = sorted(n for n, row in app.store.instances.items() if row.get("state") == "RUNNING")
    if not running:
        return None
    try:
        result = await app.source.call("logs", {"names": running, "lines": RECENT_LINES})
    except ProtocolError:
        return None
    name = best_row(running, result.get("lines") or [])
    if name is None or name not in app.store.instances:
        return None
    app.instances.focus()
    app.instances.move_cursor(row=app.instances.get_row_index(name))
    app.log_pane.follow(name)
    return name


def screenshot(app: ProcsupApp, path: str, timeout: float = 10.0) -> int:
    """Run headless until the dashboard shows data and log lines, then save it as SVG."""

    async def shoot(pilot: Any) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and not app.connected:
            await pilot.pause(0.1)
        if app.connected:
            await pilot.pause(0.3)  # the snapshot reaches the tables
            await _choose_row(app)
        while loop.time() < deadline and app.log_pane.target and not app.log_pane.received:
            await pilot.pause(0.1)
        await pilot.pause(0.3)
        folder, name = os.path.split(os.path.abspath(path))
        app.save_screenshot(filename=name, path=folder)
        app.exit(return_code=0 if app.connected else 3)

    app.run(headless=True, size=SCREENSHOT_SIZE, auto_pilot=shoot)
    return app.return_code or 0
