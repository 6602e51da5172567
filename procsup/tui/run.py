"""`run_tui`: the dashboard on a master's socket, on screen or saved as one screenshot. Kept
apart from app.py so that the app and the screenshot code (shot.py) import one way only."""

from __future__ import annotations

from procsup.tui.app import ProcsupApp
from procsup.tui.driver import set_escape_delay
from procsup.tui.shot import screenshot as save
from procsup.tui.source import MasterSource


def run_tui(socket: str, screenshot: str | None = None) -> int:
    """The dashboard on the master at `socket`; with `screenshot`, save it as SVG and exit."""
    app = ProcsupApp(MasterSource(socket))
    app.freeze_gc = True  # one app in this process: freezing its startup objects is safe
    if screenshot:
        return save(app, screenshot)
    set_escape_delay()  # on a local terminal, escape need not wait textual's 100 ms
    app.run()
    return app.return_code or 0
