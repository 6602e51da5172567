"""`procsup tui --screenshot FILE`: the dashboard saved as SVG (for the README), headless."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from procsup.tui.app import ProcsupApp

SCREENSHOT_SIZE = (130, 36)


def screenshot(app: ProcsupApp, path: str, timeout: float = 10.0) -> int:
    """Run headless until the dashboard shows data and log lines, then save it as SVG."""

    async def shoot(pilot: Any) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and not (app.connected and app.log_pane.received):
            await pilot.pause(0.1)
        await pilot.pause(0.3)
        folder, name = os.path.split(os.path.abspath(path))
        app.save_screenshot(filename=name, path=folder)
        app.exit(return_code=0 if app.connected else 3)

    app.run(headless=True, size=SCREENSHOT_SIZE, auto_pilot=shoot)
    return app.return_code or 0
