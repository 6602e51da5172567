"""`procsup` command line: parse the verb and its arguments (parser.py), run its command
(commands.py, task_commands.py) and turn its errors into a message and an exit code.

Exit codes: 0 success, 1 the operation failed, 2 usage or configuration error, 3 no master.
Keep imports light: `procsup list` must not load the engine, textual, croniter or redis.
"""

from __future__ import annotations

import sys

from procsup.cli.context import Context
from procsup.cli.errors import FAILED, NO_MASTER, OK, USAGE, CliError, SocketGone
from procsup.cli.quickargs import quick_args
from procsup.control.client import ClientError, NoMaster, NotAllowed, SocketNameTooLong

TYPE_CHECKING = False  # the `typing` module costs `procsup list` 3 ms to import
if TYPE_CHECKING:
    import argparse

    from procsup.cli.context import RunTui

#: the verbs `--cluster` sends to every host (the others read the fleet: list, tasks, history)
REMOTE_VERBS = frozenset({"start", "stop", "restart", "signal", "run"})


def _split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """`start -n web -- python -m http.server` → options before `--`, command after."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def _parse(opts: list[str]) -> argparse.Namespace:
    from procsup.cli.parser import build_parser, verb_of

    return build_parser(verb_of(opts)).parse_args(opts)


def main(argv: list[str] | None = None, tui: RunTui | None = None) -> int:
    """The CLI. `tui` runs the dashboard (procsup/__main__.py passes it: the CLI does not import
    the TUI, its sibling layer)."""
    argv = sys.argv[1:] if argv is None else argv
    opts, command = _split_command(argv)
    quick = None if command else quick_args(opts)  # `list`/`status` without argparse
    args = quick if quick is not None else _parse(opts)
    if command:
        args.command = command
    from procsup.core.locate import LocateError

    ctx: Context | None = None
    try:
        ctx = Context(args, tui)
        if getattr(args, "cluster", False) and args.verb in REMOTE_VERBS:
            from procsup.cli.fleetview import everywhere

            return everywhere(ctx, args.verbs[args.verb])
        return args.verbs[args.verb](ctx)
    except LocateError as exc:
        print(f"procsup: {exc}", file=sys.stderr)
        return USAGE
    except CliError as exc:
        print(f"procsup: {exc}", file=sys.stderr)
        return exc.code
    except SocketGone as exc:
        print(f"procsup: {exc}", file=sys.stderr)
        return NO_MASTER
    except NoMaster as exc:
        hint = ctx.no_master_hint() if ctx is not None else "start one with `procsup start`"
        print(f"procsup: {exc}; {hint}", file=sys.stderr)
        return NO_MASTER
    except NotAllowed as exc:
        print(f"procsup: {exc}", file=sys.stderr)
        return FAILED
    except SocketNameTooLong as exc:
        print(f"procsup: {exc}", file=sys.stderr)
        return USAGE
    except ClientError as exc:
        message = exc.message
        if exc.code == "invalid" and message.startswith("args."):
            message = message[len("args.") :]  # the protocol's path; the user typed an argument
        print(f"procsup: {message}", file=sys.stderr)
        for detail in exc.details or []:
            print(f"  {detail}", file=sys.stderr)
        return USAGE if exc.code in ("invalid", "config_error", "bad_request") else FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return OK
