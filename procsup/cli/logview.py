"""`procsup logs`: recent lines and live following, stdout and stderr interleaved.

On a terminal, control characters from programs are shown escaped (`\\x1b[2J`), as journalctl
does, so a program's output cannot move the cursor, retitle the window or hide text; `--raw`
passes them through. Into a pipe or a file the bytes go as they are.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from procsup.control.client import Client

#: C0 controls except TAB, DEL, and C1 controls (U+0080–U+009F): what a terminal acts upon
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")

#: stream → (marker, colour): procsup's own lines about exits stand out between the output
MARKERS = {"stdout": ("out", "36"), "stderr": ("err", "31"), "procsup": ("***", "1;33")}


def escape_controls(text: str) -> str:
    """`text` with each control character (tab aside) written as a visible `\\xNN`."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def format_line(item: dict[str, Any], width: int, colour: bool, escape: bool = False) -> str:
    marker, code = MARKERS.get(item["stream"], MARKERS["stdout"])
    prefix = f"{item['name']:<{width}} {marker} | "
    if colour:
        prefix = f"\033[{code}m{prefix}\033[0m"
    line = escape_controls(item["line"]) if escape else item["line"]
    if colour and item["stream"] == "procsup":
        return f"{prefix}\033[{code}m{line}\033[0m"
    return prefix + line


def skipped_line(item: dict[str, Any], colour: bool) -> str:
    """The marked line standing in for output a slow reader missed."""
    text = f"-- procsup: skipped {item['skipped']} bytes of output (this reader was too slow) --"
    return f"\033[33m{text}\033[0m" if colour else text


def show_logs(client: Client, req: dict[str, Any], raw: bool = False) -> int:
    """Print the lines of a `logs` request (docs/protocol.md), following when it says so."""
    colour = sys.stdout.isatty()
    escape = colour and not raw
    if not req.get("follow"):
        items = client.call("logs", req)["lines"]
        width = max((len(i["name"]) for i in items), default=0)
        for item in items:
            print(format_line(item, width, colour, escape))
        return 0
    client.set_timeout(None)
    _follow(client.stream("logs", req), colour, escape)
    return 0


def _follow(items: Any, colour: bool, escape: bool) -> None:
    width = 0
    for item in items:
        if "skipped" in item:
            print(skipped_line(item, colour), flush=True)
        elif "notice" in item:
            print(f"procsup: {item['notice']}", file=sys.stderr)
        else:
            width = max(width, len(item["name"]))
            print(format_line(item, width, colour, escape), flush=True)
