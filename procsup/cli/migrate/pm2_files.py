"""Reading pm2 files: JSON, YAML, or JavaScript evaluated by `node` (module.exports as JSON);
the `apps` list of an ecosystem file, or the list a dump (`~/.pm2/dump.pm2`) holds."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from procsup.cli.migrate.common import SourceError

NODE_EXPORT = (
    "const p=require('path');const c=require(p.resolve(process.argv[1]));"
    "process.stdout.write(JSON.stringify(c&&c.default?c.default:c))"
)


def apps(path: Path, text: str) -> list[Any]:
    data = load(path, text)
    if isinstance(data, dict):
        data = data.get("apps", data.get("apps".upper()))
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise SourceError(f"{path}: no `apps` list: not a pm2 ecosystem file or dump")
    return data


def load(path: Path, text: str) -> Any:
    """The file's data: JSON, YAML, or JavaScript evaluated by node."""
    if path.suffix in (".js", ".cjs", ".mjs"):
        return _from_node(path)
    try:
        return json.loads(text)
    except ValueError:
        pass
    import yaml  # lazy: only pm2 YAML files need it

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SourceError(f"{path}: neither JSON nor YAML: {' '.join(str(exc).split())}") from None


def _from_node(path: Path) -> Any:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise SourceError(
            f"{path}: a JavaScript ecosystem file needs node on PATH to be read; or export it "
            f"as JSON: node -e \"console.log(JSON.stringify(require('./{path.name}')))\" > "
            "ecosystem.json (or `pm2 ecosystem`), and import that"
        )
    try:
        result = subprocess.run(
            [node, "-e", NODE_EXPORT, str(path)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=path.parent,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SourceError(f"{path}: node failed: {exc}") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        error = next((line for line in lines if "Error" in line), lines[-1] if lines else "")
        raise SourceError(f"{path}: node could not evaluate it: {error.strip()}")
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise SourceError(f"{path}: module.exports is not JSON-serialisable data") from None
