"""`list`/`ls`/`status` parsed without argparse (cli/quickargs.py) give exactly the namespace
argparse gives, and every other command line is left to argparse."""

from __future__ import annotations

import pytest

from procsup.cli.parser import build_parser, verb_of
from procsup.cli.quickargs import quick_args

PLAIN = [
    ["list"],
    ["ls"],
    ["list", "--json"],
    ["ls", "web", "queue:3", "--json"],
    ["list", "--json", "web", "queue:3"],
    ["status", "-c", "x.toml", "web"],
    ["-c", "/etc/p.toml", "list"],
    ["--config", "a.toml", "list", "-c", "b.toml"],
    ["--socket", "/run/p.sock", "--no-autostart", "ls"],
    ["list", "--no-autostart", "--socket", "s", "worker*"],
    ["status"],
    ["status", "worker:7"],
    ["-c", "x.toml", "status", "web", "queue", "--no-autostart"],
    ["status", "-c", "", "all"],
]
NOT_PLAIN = [
    [],
    ["start"],
    ["list", "--cluster"],
    ["status", "--json"],
    ["--json", "list"],
    ["--config=a.toml", "list"],
    ["-ca.toml", "list"],
    ["list", "--js"],
    ["list", "-h"],
    ["-c"],
    ["list", "-c"],
    ["list", "-c", "--json"],
    ["--host", "web-1", "list"],
    ["lis"],
    ["ls", "web", "--json", "queue:3"],
    ["status", "web", "--no-autostart", "queue"],
    ["--version"],
]


def argparse_vars(argv: list[str]) -> dict[str, object]:
    return vars(build_parser(verb_of(argv)).parse_args(argv))


@pytest.mark.parametrize("argv", PLAIN, ids=" ".join)
def test_plain_forms_parse_as_argparse_does(argv: list[str]) -> None:
    quick = quick_args(argv)
    assert quick is not None
    assert vars(quick) == argparse_vars(argv)


@pytest.mark.parametrize("argv", NOT_PLAIN, ids=" ".join)
def test_everything_else_is_left_to_argparse(argv: list[str]) -> None:
    assert quick_args(argv) is None
