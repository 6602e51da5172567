"""The command lines people and scripts run most, `list`/`ls` and `status`, parsed without
argparse: importing it and building even one verb's parser cost ~5 ms of a ~25 ms `procsup list`
(issue 14: `list` within 2× of `python -c pass`).

Only plain forms are taken here: the global options (`-c PATH`, `--config PATH`, `--socket PATH`,
`--no-autostart`) before or after the verb, `--json` after `list`, and names. Anything else (an
`=` form, an abbreviation, `-h`, an unknown option, a missing value, names on both sides of
an option, which argparse refuses) returns None and goes
to argparse, which parses it, or reports it, as it always did. tests/unit/test_quickargs.py
checks that both give the same namespace.
"""

from __future__ import annotations

from types import SimpleNamespace

from procsup.cli.commands import cmd_list, cmd_status

TYPE_CHECKING = False  # the `typing` module costs `procsup list` 3 ms to import
if TYPE_CHECKING:
    from collections.abc import Callable

    from procsup.cli.context import Context

#: verb → (its command, the verb table argparse's namespace carries for it)
VERBS: dict[str, tuple[str, Callable[[Context], int]]] = {
    "list": ("list", cmd_list),
    "ls": ("list", cmd_list),
    "status": ("status", cmd_status),
}
ALIASES = {"list": ("list", "ls"), "status": ("status",)}
VALUED = {"-c": "config", "--config": "config", "--socket": "socket"}


def quick_args(argv: list[str]) -> SimpleNamespace | None:
    """The namespace argparse would give for `argv`, or None when this is not a plain form."""
    found: dict[str, object] = {"config": None, "socket": None, "host": None}
    found["no_autostart"] = None
    verb: str | None = None
    names: list[str] = []
    json = False
    closed = False  # names were given and an option followed: argparse takes no more names
    args = iter(argv)
    for arg in args:
        closed = closed or (bool(names) and arg.startswith("-"))
        if arg in VALUED:
            value = next(args, None)
            if value is None or value.startswith("-"):
                return None
            found[VALUED[arg]] = value
        elif arg == "--no-autostart":
            found["no_autostart"] = True
        elif arg == "--json" and verb is not None and VERBS[verb][0] == "list":
            json = True
        elif arg.startswith("-"):
            return None
        elif verb is None:
            if arg not in VERBS:
                return None
            verb = arg
        elif closed:
            return None
        else:
            names.append(arg)
    if verb is None:
        return None
    name, fn = VERBS[verb]
    extra = {"json": json, "cluster": False} if name == "list" else {}
    verbs = dict.fromkeys(ALIASES[name], fn)
    return SimpleNamespace(**found, verb=verb, verbs=verbs, names=names, **extra)
