"""The CLI's commands: each turns parsed arguments into control-protocol calls and prints the
result (tables for people, JSON for scripts). Parsing lives in `parser.py`, the Context in
`context.py`, the task verbs in `task_commands.py`; exit codes are in `errors.py`.
"""

from __future__ import annotations

import os
import sys

from procsup.cli.errors import FAILED, OK, USAGE, CliError
from procsup.control.client import Client, ClientError, NoMaster

TYPE_CHECKING = False  # the `typing` module costs `procsup list` 3 ms to import
if TYPE_CHECKING:
    from typing import Any

    from procsup.cli.context import Context


def cmd_daemon(ctx: Context) -> int:
    if ctx.args.foreground:
        from pathlib import Path

        from procsup.cli.daemon import run_foreground

        return run_foreground(Path(ctx.config_path), ctx.args.log_file)
    try:
        with Client(ctx.socket, timeout=5) as client:
            pid = client.master["pid"] if client.master else "?"
        raise CliError(f"a master is already running (pid {pid}) on {ctx.socket}")
    except NoMaster:
        pass
    pid = ctx.start_master(quiet=True)
    print(f"procsup master started (pid {pid})")
    return OK


def cmd_list(ctx: Context) -> int:
    from procsup.cli.tables import rows_of

    if ctx.args.cluster:
        from procsup.cli.fleetview import cluster_list

        return cluster_list(ctx)
    # the keys once, then each row's values: least to encode and decode (control/rowjson.py)
    result = ctx.call("list", {"names": ctx.args.names, "stats": True, "columns": True})
    if ctx.args.json:
        from procsup.core import indentjson

        if "columns" in result:
            print(indentjson.columns_text(result["columns"], result["rows"]))
        else:  # a master from before `columns`
            print(indentjson.dumps(result["instances"]))
    else:
        _print_list(rows_of(result))
    fleet = (result.get("master") or {}).get("fleet")
    if fleet and fleet["redis"] != "connected":
        print(
            f"\nfleet {fleet['cluster']} ({fleet['node']}): {fleet['redis']}; supervising "
            "locally, heartbeats resume when Redis answers",
            file=sys.stderr if ctx.args.json else sys.stdout,
        )
    return OK


def _print_list(instances: list[Any]) -> None:
    from procsup.cli.tables import LIST_HEADERS, list_rows, program_notes, table

    if not instances:
        print("no programs configured")
        return
    print(table(LIST_HEADERS, list_rows(instances), colour_col=1, colour=sys.stdout.isatty()))
    notes = program_notes(instances)
    if notes:
        print("\n" + "\n".join(notes))


def cmd_status(ctx: Context) -> int:
    result = ctx.call("list", {"names": ctx.args.names, "stats": False})
    rows = result["instances"]
    bad = [r for r in rows if r["state"] != "RUNNING" or not r.get("ready", True)]
    for r in rows:
        health = f" ({r['health']})" if r.get("health") else ""
        print(f"{r['name']} {r['state']}{health}")
    return FAILED if bad else OK


def _print_states(result: dict[str, Any]) -> None:
    from procsup.cli.tables import state_text

    for r in result.get("instances", []):
        waiting = f", {r['waiting']}" if r.get("waiting") else ""  # held back by depends_on
        print(f"{r['name']}: {state_text(r)}{waiting}")


def _started(row: dict[str, Any]) -> bool:
    """RUNNING, or a singleton standing by for its lease (it runs wherever the lease is)."""
    return bool(row["state"] == "RUNNING" or row.get("standby") is not None)


def cmd_start(ctx: Context) -> int:
    if ctx.args.new_name:
        return _add_adhoc(ctx)
    if ctx.args.command:
        raise CliError("a command after `--` needs a name: procsup start -n NAME -- CMD…", USAGE)
    result = ctx.call("start", {"names": ctx.args.names, "wait": True}, autostart=True, waits=True)
    _print_states(result)
    return OK if all(_started(r) for r in result["instances"]) else FAILED


def _add_adhoc(ctx: Context) -> int:
    if not ctx.args.command:
        raise CliError("give the command after `--`: procsup start -n NAME -- CMD ARGS…", USAGE)
    program: dict[str, Any] = {"command": ctx.args.command, "numprocs": ctx.args.numprocs}
    if ctx.args.cwd:
        program["directory"] = os.path.abspath(ctx.args.cwd)
    else:
        program["directory"] = os.getcwd()
    args = {"name": ctx.args.new_name, "program": program, "wait": True}
    result = ctx.call("add", args, autostart=True, waits=True)
    _print_states(result)  # like `start`: after start_seconds, or the failed start
    return OK if all(r["state"] == "RUNNING" for r in result["instances"]) else FAILED


def cmd_stop(ctx: Context) -> int:
    from procsup.cli.tables import run_result

    args = {"names": ctx.args.names}
    if ctx.args.everywhere:
        args["everywhere"] = True
    result = ctx.call("stop", args, autostart=False, waits=True)
    _print_states(result)
    runs = result.get("runs") or []
    for run in runs:
        print(f"{run['task']}: run {run['run_id']} {run_result(run)}")
    for task in result.get("tasks") or []:
        if not any(run["task"] == task for run in runs):
            print(f"{task}: no run in progress")
    return OK


def cmd_restart(ctx: Context) -> int:
    args = {"names": ctx.args.names, "rolling": ctx.args.rolling, "wait": True}
    result = ctx.call("restart", args, autostart=True, waits=True)
    _print_states(result)
    return OK if all(_started(r) for r in result["instances"]) else FAILED


def cmd_signal(ctx: Context) -> int:
    result = ctx.call("signal", {"signal": ctx.args.signal, "names": ctx.args.names})
    print(f"sent {result['signal']} to {', '.join(result['sent'])}")
    return OK


def cmd_logs(ctx: Context) -> int:
    from procsup.cli.logview import show_logs
    from procsup.core.values import parse_duration

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
    return show_logs(ctx.local_client(), req, args.raw)


def cmd_scale(ctx: Context) -> int:
    result = ctx.call(
        "scale", {"program": ctx.args.program, "numprocs": ctx.args.numprocs}, waits=True
    )
    print(f"{result['program']}: {result['numprocs']} instance(s)")
    return OK


def cmd_remove(ctx: Context) -> int:
    ctx.call("remove", {"program": ctx.args.program}, autostart=False, waits=True)
    print(f"removed {ctx.args.program}")
    return OK


def cmd_reload(ctx: Context) -> int:
    from procsup.cli.tables import reload_lines

    args = {"reset": True} if ctx.args.reset else {}
    try:
        result = ctx.call("reload", args, autostart=False, waits=True)
    except ClientError as exc:
        if exc.code == "config_error":
            raise CliError("\n".join([exc.message, *(exc.details or [])]), USAGE) from None
        raise
    print("\n".join(reload_lines(result)))
    return OK


def cmd_shutdown(ctx: Context) -> int:
    from procsup.cli.launcher import wait_exit

    result = ctx.call("shutdown")
    print(f"stopping every program and the master (pid {result['pid']})…", file=sys.stderr)
    if not wait_exit(result["pid"]):
        raise CliError(f"the master (pid {result['pid']}) is still shutting down")
    print(f"procsup master (pid {result['pid']}) stopped")
    return OK


def cmd_info(ctx: Context) -> int:
    """Facts about the running master, the process tracking in use among them."""
    info = ctx.call("hello", autostart=False)
    if ctx.args.json:
        import json

        print(json.dumps(info, indent=2))
        return OK
    for key in ("version", "pid", "host", "config", "state_dir", "tracking", "tracking_detail"):
        if key in info:
            print(f"{key + ':':<17}{info[key]}")
    return OK


def cmd_save(ctx: Context) -> int:
    result = ctx.call("save")
    print(f"saved the running set to {result['path']} (previous file: {result['path']}.bak)")
    for name in result.get("not_saved", []):
        print(
            f"note: {name} is defined in an included file; set its numprocs there", file=sys.stderr
        )
    return OK


def cmd_events(ctx: Context) -> int:
    import json  # here: `procsup list` imports this module and must not load json

    for item in ctx.local_client().stream("events"):
        print(json.dumps(item), flush=True)
    return OK


def cmd_tui(ctx: Context) -> int:
    import contextlib

    if ctx.tui is None:
        raise CliError("the dashboard is not part of this entry point; run `procsup tui`")
    # start a master if none answers and autostart is on (if not, the dashboard says so
    # itself, and connects when a master appears)
    with contextlib.suppress(NoMaster):
        ctx.client(autostart=True)
    return ctx.tui(ctx.socket, ctx.args.screenshot)


def cmd_check(ctx: Context) -> int:
    from pathlib import Path

    from procsup.cli.check import check

    return check(Path(ctx.config_path), ctx.args.json, ctx.args.strict)


def cmd_init(ctx: Context) -> int:
    from pathlib import Path

    from procsup.cli.check import init

    return init(Path(ctx.args.path))


def cmd_import(ctx: Context) -> int:
    from procsup.cli.migrate.output import run_import

    a = ctx.args
    return run_import(a.files, a.output, a.force, a.source_kind, a.env)


def cmd_startup(ctx: Context) -> int:
    from pathlib import Path

    from procsup.cli.startup import executable, run_startup
    from procsup.config.load import ConfigError, load_config

    try:
        config = load_config(Path(ctx.config_path))
    except ConfigError as exc:
        raise CliError(f"{exc}\nfix the config first (procsup check)", USAGE) from None
    return run_startup(config, ctx.args.user, ctx.args.print_unit, executable())


def cmd_describe(ctx: Context) -> int:
    from pathlib import Path

    from procsup.cli.describe import describe
    from procsup.config.load import ConfigError

    try:
        lines, note = describe(Path(ctx.config_path), ctx.socket, ctx.args.name)
    except ConfigError as exc:
        raise CliError(f"{exc}\nfix the config first (procsup check)", USAGE) from None
    except LookupError as exc:
        raise CliError(str(exc.args[0]), USAGE) from None
    print("\n".join(lines))
    if note:
        print(f"procsup: {note}", file=sys.stderr)
    return OK
