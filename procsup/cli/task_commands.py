"""The task verbs: `tasks`, `run`, `pause`, `resume` and `history` (the rest: commands.py)."""

from __future__ import annotations

import json

from procsup.cli.errors import FAILED, OK

TYPE_CHECKING = False  # the `typing` module costs `procsup list` 3 ms to import
if TYPE_CHECKING:
    from typing import Any

    from procsup.cli.context import Context


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
