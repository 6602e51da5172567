"""The `procsup` argument parser: global options, one subparser per verb and the verb table
that maps each verb to its command (commands.py, task_commands.py). main.py runs the result.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from procsup.cli.commands import (
    cmd_check,
    cmd_daemon,
    cmd_describe,
    cmd_events,
    cmd_import,
    cmd_info,
    cmd_init,
    cmd_list,
    cmd_logs,
    cmd_reload,
    cmd_remove,
    cmd_restart,
    cmd_save,
    cmd_scale,
    cmd_shutdown,
    cmd_signal,
    cmd_start,
    cmd_startup,
    cmd_status,
    cmd_stop,
    cmd_tui,
)
from procsup.cli.task_commands import cmd_history, cmd_pause, cmd_resume, cmd_run, cmd_tasks

TYPE_CHECKING = False  # the `typing` module costs `procsup list` 3 ms to import
if TYPE_CHECKING:
    from typing import Any

    from procsup.cli.context import Context


def _names(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument(
        "names",
        nargs="+" if required else "*",
        metavar="NAME",
        help="program, instance (name:N), glob (name*) or 'all'",
    )


def _global_options(p: argparse.ArgumentParser, default: Any) -> None:
    """-c/--socket/--no-autostart, accepted before the verb and after it."""
    p.add_argument(
        "-c",
        "--config",
        default=default,
        help="config file (default: $PROCSUP_CONFIG, "
        "./procsup.toml, ~/.config/procsup/procsup.toml, /etc/procsup/procsup.toml)",
    )
    p.add_argument("--socket", default=default, help="control socket path (default: config)")
    p.add_argument(
        "--host",
        default=default,
        metavar="NODE",
        help="start/stop/restart/signal/run on NODE of the cluster, through Redis "
        "(its master needs remote_control = true)",
    )
    p.add_argument(
        "--no-autostart",
        action="store_true",
        default=default,
        help="never start a master in the background (also: $PROCSUP_NO_AUTOSTART=1, "
        "or cli_autostart = false in [procsup])",
    )


def _setup_daemon(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--foreground", action="store_true", help="stay in the foreground")
    p.add_argument("--log-file", help="with -f: log to this rotating file instead of stderr")


def _setup_start(p: argparse.ArgumentParser) -> None:
    _names(p, required=False)
    p.add_argument("-n", "--name", dest="new_name", help="add an ad-hoc program with this name")
    p.add_argument("--numprocs", type=int, default=1, help="instances of the ad-hoc program")
    p.add_argument("--cwd", help="working directory of the ad-hoc program (default: here)")
    p.set_defaults(command=[])
    p.add_argument(
        "--cluster", action="store_true", help="on every host of the cluster, through Redis"
    )


def _setup_stop(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "names",
        nargs="+",
        metavar="NAME",
        help="program, instance (name:N), glob (name*) or 'all'; a task name stops its runs "
        "in progress (the task stays scheduled)",
    )
    p.add_argument(
        "--everywhere",
        action="store_true",
        help="a singleton program is not taken over by another host (until a start of it)",
    )
    p.add_argument(
        "--cluster", action="store_true", help="on every host of the cluster, through Redis"
    )


def _setup_restart(p: argparse.ArgumentParser) -> None:
    _names(p, True)
    p.add_argument("--rolling", action="store_true", help="one instance at a time")
    p.add_argument(
        "--cluster", action="store_true", help="on every host of the cluster, through Redis"
    )


def _setup_signal(p: argparse.ArgumentParser) -> None:
    p.add_argument("signal", help="HUP, USR1, 10, …")
    _names(p, True)
    p.add_argument(
        "--cluster", action="store_true", help="on every host of the cluster, through Redis"
    )


def _setup_list(p: argparse.ArgumentParser) -> None:
    _names(p, False)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--cluster", action="store_true", help="every host of the cluster, read from Redis"
    )


def _setup_logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="program, instance or glob (default: all)")
    p.add_argument("-f", "--follow", action="store_true", help="keep streaming new lines")
    p.add_argument(
        "-n", "--lines", type=int, default=20, help="how many recent lines (0: only new ones)"
    )
    stream = p.add_mutually_exclusive_group()
    stream.add_argument("--stdout", dest="stream", action="store_const", const="stdout")
    stream.add_argument("--stderr", dest="stream", action="store_const", const="stderr")
    p.add_argument("--since", help="only lines newer than this (10m, 1h)")
    p.add_argument(
        "--raw",
        action="store_true",
        help="pass control characters (colours, escapes) through to a terminal unescaped",
    )


def _setup_scale(p: argparse.ArgumentParser) -> None:
    p.add_argument("program")
    p.add_argument("numprocs", type=int)


def _setup_program(p: argparse.ArgumentParser) -> None:
    p.add_argument("program")


def _setup_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true")


def _setup_check(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--strict", action="store_true", help="exit 1 on warnings (commands that cannot run)"
    )


def _setup_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("task")
    p.add_argument(
        "--wait", action="store_true", help="wait for the run to end and exit with its exit code"
    )
    p.add_argument(
        "--cluster", action="store_true", help="on every host of the cluster, through Redis"
    )


def _setup_task_names(p: argparse.ArgumentParser) -> None:
    p.add_argument("tasks", nargs="+", metavar="TASK")


def _setup_history(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", nargs="?", help="one task (default: all)")
    p.add_argument("-n", "--lines", type=int, default=20, help="how many runs, newest first")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--cluster", action="store_true", help="every host of the cluster, read from Redis"
    )


def _setup_tasks(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--cluster", action="store_true", help="every host of the cluster, read from Redis"
    )


def _setup_tui(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--screenshot", metavar="FILE", help="save the dashboard as an SVG file and exit"
    )


def _setup_reload(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reset",
        action="store_true",
        help="apply the file exactly as written: drop run-time changes (start/stop, scale) "
        "and remove ad-hoc programs that are not in the file",
    )


def _setup_init(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", default="procsup.toml")


def _setup_import(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="supervisord .conf, pm2 ecosystem file or dump, Procfile or crontab",
    )
    p.add_argument("-o", "--output", metavar="OUT", help="write the TOML here (default: stdout)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument(
        "--from",
        dest="source_kind",
        choices=["supervisord", "pm2", "procfile", "crontab"],
        help="the kind of the files (default: detected from their content)",
    )
    p.add_argument("--env", help="pm2: merge env_NAME over env, like `pm2 start --env NAME`")


def _setup_startup(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", action="store_true", help="a systemd --user unit")
    p.add_argument(
        "--print", dest="print_unit", action="store_true", help="print the unit, write nothing"
    )


def _setup_describe(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="a program, instance (name:N) or task")


Setup = Callable[[argparse.ArgumentParser], None]
#: name, handler, help, aliases, arguments
VERBS: list[tuple[str, Callable[[Context], int], str, tuple[str, ...], Setup]] = [
    ("daemon", cmd_daemon, "start the master (in the background unless -f)", (), _setup_daemon),
    ("start", cmd_start, "start programs, or add one: start -n NAME -- CMD…", (), _setup_start),
    (
        "stop",
        cmd_stop,
        "stop programs (whole process trees) or the runs of a task",
        (),
        _setup_stop,
    ),
    ("restart", cmd_restart, "restart programs", (), _setup_restart),
    ("signal", cmd_signal, "send a signal to programs' process trees", (), _setup_signal),
    ("list", cmd_list, "show every instance", ("ls",), _setup_list),
    (
        "status",
        cmd_status,
        "exit 0 only if all named instances are RUNNING",
        (),
        lambda p: _names(p, False),
    ),
    ("logs", cmd_logs, "show or follow output", (), _setup_logs),
    ("scale", cmd_scale, "change a program's numprocs at run time", (), _setup_scale),
    (
        "remove",
        cmd_remove,
        "stop a program and drop it (ad-hoc programs for good)",
        (),
        _setup_program,
    ),
    ("tasks", cmd_tasks, "show tasks: schedule, next run, last result", (), _setup_tasks),
    ("run", cmd_run, "run a task now (through its lock)", (), _setup_run),
    ("pause", cmd_pause, "pause tasks' schedules (kept over restarts)", (), _setup_task_names),
    ("resume", cmd_resume, "let paused tasks fire on their schedule again", (), _setup_task_names),
    ("history", cmd_history, "show the runs and skips of tasks", (), _setup_history),
    (
        "reload",
        cmd_reload,
        "apply the changed config file (keeping run-time changes unless --reset)",
        (),
        _setup_reload,
    ),
    ("shutdown", cmd_shutdown, "stop everything and the master", (), lambda p: None),
    (
        "info",
        cmd_info,
        "the running master: version, pid, process tracking in use",
        (),
        _setup_json,
    ),
    ("save", cmd_save, "write the running set into the config file", (), lambda p: None),
    ("events", cmd_events, "print the master's event stream as JSON lines", (), lambda p: None),
    ("tui", cmd_tui, "the live dashboard", (), _setup_tui),
    ("check", cmd_check, "validate the config and show what would run", (), _setup_check),
    ("init", cmd_init, "write a starter procsup.toml", (), _setup_init),
    (
        "import",
        cmd_import,
        "convert supervisord / pm2 / Procfile / crontab setups to procsup TOML",
        (),
        _setup_import,
    ),
    ("startup", cmd_startup, "write the systemd unit for this config", (), _setup_startup),
    ("describe", cmd_describe, "everything about one program or task", ("show",), _setup_describe),
]


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter told the terminal width, so argparse does not import shutil (and
    with it bz2, lzma, fnmatch) on every call just to ask for it."""

    def __init__(self, prog: str) -> None:
        try:
            width = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size(2).columns
        except (ValueError, OSError):
            width = 80
        super().__init__(prog, width=max(width - 2, 40))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole CLI, or just the global options and the verb `only` (building every
    subcommand costs more than `procsup list` does otherwise)."""
    fmt = _Formatter
    parser = argparse.ArgumentParser(
        prog="procsup", description="A process supervisor.", formatter_class=fmt
    )
    _global_options(parser, None)
    common = argparse.ArgumentParser(add_help=False, formatter_class=fmt)
    _global_options(common, argparse.SUPPRESS)  # after the verb: only set when given
    from procsup import __version__

    parser.add_argument("--version", action="version", version=f"procsup {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    verbs: dict[str, Callable[[Context], int]] = {}
    for name, fn, text, aliases, setup in VERBS:
        if only is None or only in (name, *aliases):
            setup(
                sub.add_parser(
                    name,
                    help=text,
                    description=text,
                    aliases=list(aliases),
                    parents=[common],
                    formatter_class=fmt,
                )
            )
            verbs.update(dict.fromkeys((name, *aliases), fn))
    parser.set_defaults(verbs=verbs)
    return parser


def verb_of(argv: list[str]) -> str | None:
    """The verb of a command line when it is a known one; None means "build them all"."""
    known = {n for name, _, _, aliases, _ in VERBS for n in (name, *aliases)}
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("-c", "--config", "--socket"):
            skip = True
        elif arg in ("-h", "--help", "--version"):
            return None
        elif not arg.startswith("-"):
            return arg if arg in known else None
    return None
