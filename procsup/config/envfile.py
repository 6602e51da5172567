r"""`env_file`: dotenv files read into a program's or task's environment, the way Laravel reads
its `.env`.

The lines are parsed by python-dotenv's parser (quoting, `export`, comments, multi-line double
quoted values, `\n` escapes in double quotes); `${VAR}` references are resolved here, because
python-dotenv's own resolver differs from Laravel's (vlucas/phpdotenv) in two ways that matter:

- a single-quoted value is literal in phpdotenv and docker compose (`'${APP_NAME}'` stays as
  written); python-dotenv would expand it;
- a reference to a variable that is set nowhere is left as written by phpdotenv; python-dotenv
  would make it empty.

What procsup does (README "env_file"): `${NAME}` in an unquoted or double-quoted value is the
value of NAME set earlier in the same file(s), else in the master's environment, else left as
written; `${NAME:-default}` (docker compose) gives `default` when NAME is unset; a bare `$NAME`
is not a reference; a line with a name and no `=` sets nothing. One difference from Laravel is
kept on purpose: phpdotenv never overrides a variable already set in the process environment,
while procsup gives the file's value to the child (as systemd's EnvironmentFile= and docker
compose do); `environment` in the config wins over both. Smaller differences left to
python-dotenv's parser: `${NAME:-default}` is left as written by Laravel; `\$` in double quotes
stays `\$` (Laravel reads `$`); inside single quotes `\'` and `\\` are escapes (Laravel reads
single-quoted text as it is).

Imported only by the config loader when a program or task has `env_file`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path

from dotenv.parser import Binding, parse_stream
from dotenv.variables import Literal, Variable, parse_variables

_KEY_PREFIX = re.compile(r"\s*(?:export\s+)?[^=\s]+\s*=\s*")


def parse_dotenv(text: str, outer: Mapping[str, str]) -> dict[str, str]:
    """The variables a dotenv text sets, references resolved (see the module docstring).

    Raises ValueError naming the first line that is not `NAME=value`, a comment or blank."""
    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            line = binding.original.string.strip()
            raise ValueError(f"line {binding.original.line}: not NAME=value: {line[:60]!r}")
        if binding.key is None or binding.value is None:
            continue  # a comment, a blank line, or a bare NAME (sets nothing)
        if _single_quoted(binding):
            values[binding.key] = binding.value
        else:
            values[binding.key] = _expand(binding.value, values, outer)
    return values


def _single_quoted(binding: Binding) -> bool:
    raw = _KEY_PREFIX.sub("", binding.original.string, count=1)
    return raw.startswith("'")


def _expand(value: str, own: Mapping[str, str], outer: Mapping[str, str]) -> str:
    parts = []
    for atom in parse_variables(value):
        if isinstance(atom, Literal) or not isinstance(atom, Variable):
            parts.append(atom.resolve({}))
        elif atom.name in own:
            parts.append(own[atom.name])
        elif atom.name in outer:
            parts.append(outer[atom.name])
        elif atom.default is not None:
            parts.append(atom.default)
        else:
            parts.append("${" + atom.name + "}")  # unset: left as written, as phpdotenv does
    return "".join(parts)


def load_env_files(paths: tuple[str, ...], outer: Mapping[str, str]) -> dict[str, str]:
    """The variables of every file in order (a later file wins); a path starting with `-` may
    be missing. Raises ValueError naming the file for a missing or unreadable one."""
    values: dict[str, str] = {}
    for spec in paths:
        optional = spec.startswith("-")
        path = Path(spec[1:] if optional else spec)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if optional:
                continue
            raise ValueError(
                f"{path} not found; create it, or write '-{path}' to make it optional"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise ValueError(f"cannot read {path}: {reason}") from None
        try:
            values |= parse_dotenv(text, {**outer, **values})
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    return values
