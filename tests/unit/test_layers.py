"""The packages under procsup/ are layers, and imports point one way (STYLE.md, issue 10).

Every module's imports are read from its syntax tree (top-level, inside functions and under
TYPE_CHECKING alike: a lazy import still couples the layers), so the test needs no import of
procsup itself. Imports that break a rule today are listed in KNOWN, each with the reason; issue 10
removes them one by one, and a listed import that is gone fails the test so the list only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "procsup"

#: the client side of control/: what the CLI and the TUI may use, never the engine
CLIENT_SIDE = ("procsup.control.protocol", "procsup.control.client")

#: the procsup packages each layer may import (its own included)
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "config": {"core", "config"},
    "engine": {"core", "config", "engine"},
    "tasks": {"core", "config", "engine", "tasks"},  # a run uses the engine's child primitives
    "control": {"core", "config", "engine", "tasks", "control"},  # server side; see CLIENT_SIDE
    "cli": {"core", "config", "control", "cli"},
    "tui": {"core", "config", "control", "tui"},
}
CLIENT_ALLOWED = {"procsup.core", *CLIENT_SIDE}

#: imports that break the rules today (importer, imported); issue 10 removes each one
KNOWN: dict[tuple[str, str], str] = {
    # the CLI reaches past control/ into the engine and the tasks
    ("procsup.cli.check", "procsup.engine.cgroups"): "issue 10: `check` probes cgroups itself",
    ("procsup.cli.describe", "procsup.tasks.schedule"): "issue 10: next fire times",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    """Whether procsup.a.b names a module or package (so `from procsup.a import b` imports it)."""
    rel = Path(*name.split(".")[1:])
    return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()


def procsup_imports(path: Path) -> set[str]:
    """The procsup modules this file imports, `from pkg import mod` resolved to pkg.mod."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("procsup."))
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: use absolute imports"
            if not node.module.startswith("procsup."):
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if is_module(sub) else node.module)
    return found


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED) else None


def breaks_rule(importer: str, imported: str) -> bool:
    if importer in CLIENT_SIDE:
        return not imported.startswith(tuple(CLIENT_ALLOWED))
    mine, theirs = layer(importer), layer(imported)
    return mine is not None and theirs is not None and theirs not in ALLOWED[mine]


def all_imports() -> dict[str, set[str]]:
    return {module_name(p): procsup_imports(p) for p in sorted(ROOT.rglob("*.py"))}


def test_every_module_lives_in_a_layer() -> None:
    loose = [m for m in all_imports() if layer(m) is None]
    assert sorted(loose) == ["procsup", "procsup.__main__"]
    assert {p.name for p in ROOT.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(
        ALLOWED
    )


def test_every_layer_says_what_it_may_import() -> None:
    for init in [ROOT / name / "__init__.py" for name in ALLOWED]:
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and "import" in doc, f"{init}: say what the layer may import"


def test_imports_point_down_the_layers() -> None:
    broken = {
        (importer, imported)
        for importer, imports in all_imports().items()
        for imported in imports
        if breaks_rule(importer, imported)
    }
    new = sorted(broken - set(KNOWN))
    assert not new, f"imports against the layer rules (STYLE.md): {new}"
    gone = sorted(set(KNOWN) - broken)
    assert not gone, f"fixed: remove from KNOWN in tests/unit/test_layers.py: {gone}"


def test_the_rules_catch_what_they_forbid() -> None:
    assert breaks_rule("procsup.engine.instance", "procsup.control.server")
    assert breaks_rule("procsup.tasks.task", "procsup.cli.commands")
    assert breaks_rule("procsup.tui.store", "procsup.engine.registry")
    assert breaks_rule("procsup.cli.tables", "procsup.tasks.history")
    assert breaks_rule("procsup.control.client", "procsup.engine.master")
    assert breaks_rule("procsup.core.states", "procsup.config.load")
    assert not breaks_rule("procsup.control.handlers.base", "procsup.engine.master")
    assert not breaks_rule("procsup.cli.commands", "procsup.control.client")
