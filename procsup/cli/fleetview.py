"""`procsup list/tasks/history --cluster`: the fleet as the masters' heartbeats left it in
Redis (README, "Many hosts"), one table with a HOST column; a host whose master missed its
heartbeats is marked `(stale)`. Reads Redis directly: no master needs to answer here."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

from procsup.cli.cluster import cluster_of, remote_client
from procsup.cli.errors import FAILED, OK, CliError

if TYPE_CHECKING:
    from collections.abc import Callable

    from procsup.cli.context import Context
    from procsup.control.fleetclient import Host


def fleet_hosts(ctx: Context) -> list[Host]:
    """The host entries of the cluster named in this config, or a one-line error."""
    from procsup.control.fleetclient import FleetError, read_hosts

    url, cluster, _ = cluster_of(ctx.config_path)
    try:
        return read_hosts(url, cluster)
    except FleetError as exc:
        raise CliError(str(exc)) from None


def everywhere(ctx: Context, command: Callable[[Context], int]) -> int:
    """`procsup restart worker --cluster`: the command on every live host, one after another,
    each host's output under its name; the worst exit code. A host that has none of the names
    is skipped (the names are its own to have); a stale host or one without remote control
    is an error."""
    from procsup.control.client import ClientError

    code, served = OK, 0
    for host in fleet_hosts(ctx):
        print(f"[{host.node}]", flush=True)
        ctx._client = remote_client(ctx.config_path, host.node)  # one client per host
        try:
            code = max(code, command(ctx))
            served += 1
        except ClientError as exc:
            if exc.code == "not_found":
                print(f"skipped: {exc.message}")
                continue
            print(f"procsup: {exc.message}", file=sys.stderr)
            code = max(code, FAILED)
    if not served and code == OK:
        raise CliError("no host of the cluster has these names")
    return code


def cluster_list(ctx: Context) -> int:
    from procsup.cli.tables import LIST_HEADERS, list_rows, table

    now = time.time()
    hosts = fleet_hosts(ctx)
    if ctx.args.json:
        out = [{**row, "host": h.node, "stale": h.stale} for h in hosts for row in h.instances(now)]
        print(json.dumps(out, indent=2))
        return OK
    if not hosts:
        print("no hosts in the cluster (no master has written a heartbeat)")
        return OK
    rows = [[h.label, *cells] for h in hosts for cells in list_rows(h.instances(now), now)]
    print(table(["HOST", *LIST_HEADERS], rows, colour_col=2, colour=sys.stdout.isatty()))
    return OK


def cluster_tasks(ctx: Context) -> int:
    from procsup.cli.tables import TASK_HEADERS, table, task_rows

    hosts = fleet_hosts(ctx)
    tagged = [(h, t) for h in hosts for t in h.entry.get("tasks", [])]
    if ctx.args.json:
        print(json.dumps([{**t, "host": h.node, "stale": h.stale} for h, t in tagged], indent=2))
    elif not tagged:
        print("no tasks on any host")
    else:
        rows = [[h.label, *task_rows([t])[0]] for h, t in tagged]
        print(table(["HOST", *TASK_HEADERS], rows))
    return OK


def cluster_history(ctx: Context) -> int:
    """Each run with the host it ran on (recorded with the run), newest first."""
    from procsup.cli.tables import HISTORY_HEADERS, history_rows, table

    runs: list[dict[str, Any]] = [
        {**run, "stale": h.stale}
        for h in fleet_hosts(ctx)
        for run in h.entry.get("runs", [])
        if ctx.args.task in (None, run["task"])
    ]
    runs.sort(key=lambda r: r["started"] or r["scheduled"] or 0, reverse=True)
    runs = runs[: ctx.args.lines]
    if ctx.args.json:
        print(json.dumps(runs, indent=2))
    elif not runs:
        print("no runs yet on any host")
    else:
        rows = [[r["host"], *cells] for r, cells in zip(runs, history_rows(runs), strict=True)]  # type: ignore[arg-type]
        print(table(["HOST", *HISTORY_HEADERS], rows))
    return OK
