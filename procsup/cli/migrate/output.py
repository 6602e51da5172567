"""Write an import as procsup TOML (tomli-w, with comments saying where each part came from)
and validate the result the way `procsup check` does.

Exit codes of `procsup import`: 0 clean, 1 with warnings (or a result `check` rejects, written
anyway so it can be fixed), 2 when a source cannot be read.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import tomli_w

from procsup.cli.migrate import convert
from procsup.cli.migrate.common import Conversion, SourceError


def render(conv: Conversion) -> str:
    """The TOML text: a header naming the sources, [procsup] if any, then each table with its
    comments above it."""
    stamp = time.strftime("%Y-%m-%d %H:%M %Z")
    out = [f"# Imported by `procsup import` on {stamp} from:"]
    out += [f"#   {file} ({kind})" for file, kind in conv.sources]
    if conv.warnings:
        out.append(f"# {len(conv.warnings)} warning(s) about what could not be carried over:")
        out += [f"#   {w}" for w in conv.warnings]
    out += _comments(conv.master_comments)
    out.append("# Check it with `procsup -c FILE check`.")
    out.append("")
    if conv.master:
        out.append(tomli_w.dumps({"procsup": conv.master}))
    for entry in conv.entries:
        out += _comments(entry.comments)
        out.append(tomli_w.dumps({entry.kind: {entry.name: entry.table}}))
    return "\n".join(out).rstrip("\n") + "\n"


def _comments(texts: list[str]) -> list[str]:
    """Comment lines wrapped to fit 100 columns (continuations indented)."""
    import textwrap

    lines = []
    for text in texts:
        wrapped = textwrap.wrap(text, 96, break_long_words=False, break_on_hyphens=False)
        lines += [("# " if i == 0 else "#   ") + line for i, line in enumerate(wrapped)]
    return lines


def validate(path: Path) -> list[str]:
    """What `check` would say about the written file: errors, then commands that cannot run."""
    from procsup.cli.check import command_warnings
    from procsup.config.load import ConfigError, load_config

    try:
        config = load_config(path)
    except ConfigError as exc:
        return [f"error: {issue}" for issue in exc.issues]
    return [f"warning: {w}" for w in command_warnings(config)]


def run_import(
    files: list[str], out: str | None, force: bool, kind: str | None, env_name: str | None
) -> int:
    try:
        conv = convert([Path(f) for f in files], kind, env_name)
    except SourceError as exc:
        print(f"procsup: {exc}", file=sys.stderr)
        return 2
    text = render(conv)
    for warning in conv.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if out is not None:
        target = Path(out)
        if target.exists() and not force:
            print(f"procsup: {out} exists; not overwriting it (use --force)", file=sys.stderr)
            return 2
        target.write_text(text)
        problems = validate(target)
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
        problems = _validate_text(text)
    for problem in problems:
        print(problem, file=sys.stderr)
    if any(p.startswith("error:") for p in problems):
        print(
            "the result does not pass `procsup check` as it is; fix the lines above",
            file=sys.stderr,
        )
    return 1 if conv.warnings or problems else 0


def _validate_text(text: str) -> list[str]:
    """Validate output written to stdout: every path in it is absolute, so any folder will do."""
    fd, name = tempfile.mkstemp(prefix="procsup-import-", suffix=".toml")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return [p.replace(name, "<stdout>") for p in validate(Path(name))]
    finally:
        os.unlink(name)
