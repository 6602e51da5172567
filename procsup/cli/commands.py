"""The CLI's commands: each turns parsed arguments into control-protocol calls and prints the
result (tables for people, JSON for scripts). Parsing lives in `main.py`.

Exit codes: 0 success, 1 the operation failed, 2 usage or configuration error, 3 no master.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from procsup.control.client import Client, ClientError, NoMaster, live_master_pid

TYPE_CHECKING = False  # the `typing` module costs `procsup list` 3 ms to import
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from procsup.control.fleetclient import RemoteClient

    #: run_tui(socket, screenshot): the CLI and the TUI are layers side by side, so the CLI
    #: is handed the dashboard instead of importing it
    RunTui = Callable[[str, str | None], int]


OK, FAILED, USAGE, NO_MASTER = 0, 1, 2, 3
#: the verbs that mean to run something, and so may start a master when none answers
STARTERS = frozenset({"start", "restart", "run", "tui", "daemon"})


class SocketGone(NoMaster):
    """A master holds the pid lock, but its socket does not answer (the file was deleted)."""


class CliError(Exception):
    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.code = code


class Context:
    """What every command needs: where the config and socket are, and a client on demand."""

    def __init__(self, args: argparse.Namespace, tui: RunTui | None = None) -> None:
        from procsup.core import locate

        self.args = args
        self.tui = tui  # the dashboard, given by the composition root (procsup/__main__.py)
        self.config_path = locate.find_config_path(args.config)
        socket, state_dir = locate.master_paths(str(self.config_path))
        self.socket = args.socket or socket
        self.state_dir = state_dir
        self._client: Client | RemoteClient | None = None

    def client(self, autostart: bool = False) -> Client | RemoteClient:
        """A connected client. Only the verbs that mean to run something (STARTERS) pass
        autostart=True, and even they start no master when autostart is turned off.
        With --host NODE: NODE's master, reached through the cluster's Redis."""
        if self._client is None:
            if getattr(self.args, "host", None):
                from procsup.cli.fleetview import remote_client

                self._client = remote_client(self, self.args.host)
            else:
                self._client = self._connect(autostart)
        return self._client

    def local_client(self) -> Client:
        """The local master's client, for the streams that --host does not carry."""
        if getattr(self.args, "host", None):
            raise CliError(f"`{self.args.verb}` does not work with --host", USAGE)
        client = self.client()
        assert isinstance(client, Client)
        return client

    def _connect(self, autostart: bool) -> Client:
        try:
            return Client(self.socket).connect()
        except NoMaster as exc:
            self._check_socket_gone(exc)
            if not autostart or self.args.verb not in STARTERS or self.autostart_off():
                raise
        self.start_master(quiet=False)
        return Client(self.socket).connect()

    def autostart_off(self) -> str | None:
        """Why the CLI must not start a master in the background, or None when it may."""
        from procsup.cli.launcher import autostart_off

        if self.args.no_autostart:
            return "--no-autostart"
        return autostart_off(self.config_path)

    def no_master_hint(self) -> str:
        """What to do when no master answers: name the command that would start one."""
        if not os.path.exists(self.config_path):
            return (
                f"no config file at {self.config_path} either; create one with "
                "`procsup init` or pass -c PATH"
            )
        off = self.autostart_off()
        if off is not None and off != "--no-autostart":
            return (
                f"CLI autostart is off ({off}); start the master as this host does "
                "(e.g. `systemctl start procsup`) or with `procsup daemon`"
            )
        if self.args.verb in STARTERS:  # it would have started one but for --no-autostart
            return "run it without --no-autostart, or start the master with `procsup daemon`"
        return (
            "start one with `procsup start` (the master and every autostart program) "
            "or `procsup daemon` (the master only)"
        )

    def _check_socket_gone(self, exc: NoMaster) -> None:
        """No answer, but a live master holds the pid lock: its socket file was removed. Say so
        (starting another master would only fail on the lock)."""
        pid = live_master_pid(self.state_dir)
        if pid is not None:
            raise SocketGone(
                f"{exc}, but a master (pid {pid}) holds {self.state_dir}: if it has just "
                f"started, try again in a moment; if its socket file was deleted, "
                f"`kill -HUP {pid}` creates it again"
            ) from None

    def start_master(self, quiet: bool) -> int:
        from procsup.cli.launcher import LaunchError, launch_master

        if not os.path.exists(self.config_path):
            raise CliError(
                f"no config file at {self.config_path}; create one with "
                "`procsup init` or pass -c PATH",
                USAGE,
            )
        try:
            pid = launch_master(self.config_path, self.socket, self.state_dir)
        except LaunchError as exc:
            raise CliError(str(exc)) from None
        if not quiet:
            print(f"procsup: started a master (pid {pid}) for {self.config_path}", file=sys.stderr)
        return pid

    def call(
        self,
        cmd: str,
        args: dict[str, Any] | None = None,
        autostart: bool = False,
        waits: bool = False,
    ) -> Any:
        """One request. `waits`: the reply comes when processes have stopped or started, which
        may take as long as their stop_timeout, so no reply deadline applies."""
        client = self.client(autostart)
        if waits:
            client.set_timeout(None)
        return client.call(cmd, args)


# --- commands ---------------------------------------------------------------------------------


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
    from procsup.cli.tables import LIST_HEADERS, list_rows, program_notes, table

    if ctx.args.cluster:
        from procsup.cli.fleetview import cluster_list

        return cluster_list(ctx)
    result = ctx.call("list", {"names": ctx.args.names, "stats": True})
    if ctx.args.json:
        print(json.dumps(result["instances"], indent=2))
    elif not result["instances"]:
        print("no programs configured")
    else:
        rows = list_rows(result["instances"])
        print(table(LIST_HEADERS, rows, colour_col=1, colour=sys.stdout.isatty()))
        notes = program_notes(result["instances"])
        if notes:
            print("\n" + "\n".join(notes))
    fleet = (result.get("master") or {}).get("fleet")
    if fleet and fleet["redis"] != "connected":
        print(
            f"\nfleet {fleet['cluster']} ({fleet['node']}): {fleet['redis']}; supervising "
            "locally, heartbeats resume when Redis answers",
            file=sys.stderr if ctx.args.json else sys.stdout,
        )
    return OK


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


def cmd_tasks(ctx: Context) -> int:
    from procsup.cli.tables import TASK_HEADERS, table, task_rows

    if ctx.args.cluster:
        from procsup.cli.fleetview import cluster_tasks

        return cluster_tasks(ctx)
    result = ctx.call("tasks")
    if ctx.args.json:
        print(json.dumps(result["tasks"], indent=2))
    elif not result["tasks"]:
        print("no tasks configured")
    else:
        print(table(TASK_HEADERS, task_rows(result["tasks"])))
    return OK


def cmd_run(ctx: Context) -> int:
    """Run a task now; with --wait, exit with the run's own exit code."""
    from procsup.cli.tables import run_result

    client = ctx.client(autostart=True)
    if ctx.args.wait:
        client.set_timeout(None)  # a run may take hours
    run = client.call("run", {"task": ctx.args.task, "wait": ctx.args.wait})["run"]
    name = f"{ctx.args.task}: run {run['run_id']}"
    if run["status"] == "running":
        print(f"{name} started")
        return OK
    print(f"{name}: {run_result(run)}")
    if run["status"] == "skipped":
        return FAILED
    code = run.get("exit_code")
    if run["status"] == "ok" or code is None:
        return OK if run["status"] == "ok" else FAILED
    return code if code > 0 else 128 - code if code < 0 else FAILED


def cmd_pause(ctx: Context) -> int:
    """Stop tasks' schedules until `resume` (kept across master restarts)."""
    return _pause(ctx, "pause", "paused")


def cmd_resume(ctx: Context) -> int:
    """Let paused tasks fire on their schedule again."""
    return _pause(ctx, "resume", "resumed")


def _pause(ctx: Context, cmd: str, done: str) -> int:
    changed = ctx.call(cmd, {"tasks": ctx.args.tasks})["changed"]
    for name in ctx.args.tasks:
        print(f"{name}: {done}" if name in changed else f"{name}: already {done}")
    return OK


def cmd_history(ctx: Context) -> int:
    from procsup.cli.tables import HISTORY_HEADERS, history_rows, table

    if ctx.args.cluster:
        from procsup.cli.fleetview import cluster_history

        return cluster_history(ctx)
    args: dict[str, Any] = {"limit": ctx.args.lines}
    if ctx.args.task:
        args["task"] = ctx.args.task
    runs = ctx.call("history", args)["runs"]
    if ctx.args.json:
        print(json.dumps(runs, indent=2))
    elif not runs:
        print("no runs yet")
    else:
        print(table(HISTORY_HEADERS, history_rows(runs)))
    return OK


def cmd_events(ctx: Context) -> int:
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


# --- parser -----------------------------------------------------------------------------------
