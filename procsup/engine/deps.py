"""`depends_on` between programs: whether an instance may start, and the order programs stop
in. An instance knows no other program; the registry asks here and holds it back (`waiting`)
until every instance of each program it depends on meets the condition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from procsup.config.load import ProgramConfig
from procsup.config.order import start_order
from procsup.core.states import State

if TYPE_CHECKING:
    from procsup.engine.instance import Instance
    from procsup.engine.program import Program


def meets(inst: Instance, condition: str) -> bool:
    """ready: it serves (Instance.ready); started: RUNNING; completed: exited 0 by itself."""
    if condition == "ready":
        return inst.ready
    if condition == "completed":
        return inst.completed
    return inst.state == State.RUNNING


def unmet(config: ProgramConfig, programs: Mapping[str, Program]) -> str | None:
    """The first dependency not met yet, as `db (ready)`, or None when the start may go on.
    A name with no program (only possible for an ad-hoc program) holds nothing back."""
    for name, condition in config.depends_on.items():
        prog = programs.get(name)
        if prog is not None and not all(meets(inst, condition) for inst in prog):
            return f"{name} ({condition})"
    return None


def stop_waves(programs: Mapping[str, Program]) -> list[list[str]]:
    """Program names in the order to stop them: dependents first, what they depend on last."""
    return list(reversed(start_order({n: p.config.depends_on for n, p in programs.items()})))


def in_stop_order(
    insts: Iterable[Instance], programs: Mapping[str, Program]
) -> list[list[Instance]]:
    """`insts` grouped into waves to stop one after the other (each wave in parallel)."""
    by_program: dict[str, list[Instance]] = {}
    for inst in insts:
        by_program.setdefault(inst.config.name, []).append(inst)
    waves = [
        [i for name in wave for i in by_program.pop(name, [])] for wave in stop_waves(programs)
    ]
    leftover = [i for group in by_program.values() for i in group]  # a program just removed
    return [w for w in [*waves, leftover] if w]
