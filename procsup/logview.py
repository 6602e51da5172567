"""`procsup logs`: recent lines and live following, stdout and stderr interleaved."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from procsup.commands import Context


#: stream → (marker, colour): procsup's own lines about exits stand out between the output
MARKERS = {"stdout": ("out", "36"), "stderr": ("err", "31"), "procsup": ("***", "1;33")}


def format_line(item: dict[str, Any], width: int, colour: bool) -> str:
    marker, code = MARKERS.get(item["stream"], MARKERS["stdout"])
    prefix = f"{item['name']:<{width}} {marker} | "
    if colour:
        prefix = f"\033[{code}m{prefix}\033[0m"
        if item["stream"] == "procsup":
            return f"{prefix}\033[{code}m{item['line']}\033[0m"
    return prefix + item["line"]


def show_logs(ctx: Context) -> int:
    from procsup.commands import USAGE, CliError
    from procsup.datatypes import parse_duration

    args = ctx.args
    since = None
    if args.since:
        try:
            since = parse_duration(args.since)
        except ValueError as exc:
            raise CliError(f"--since {args.since!r}: {exc}", USAGE) from None
    req = {
        "names": [args.name] if args.name else [],
        "lines": args.lines,
        "stream": args.stream,
        "since": since,
        "follow": args.follow,
    }
    colour = sys.stdout.isatty()
    width = 0
    client = ctx.client(autostart=False)
    if not args.follow:
        items = client.call("logs", req)["lines"]
        width = max((len(i["name"]) for i in items), default=0)
        for item in items:
            print(format_line(item, width, colour))
        return 0
    client.set_timeout(None)
    for item in client.stream("logs", req):
        if "notice" in item:
            print(f"procsup: {item['notice']}", file=sys.stderr)
            continue
        width = max(width, len(item["name"]))
        print(format_line(item, width, colour), flush=True)
    return 0
