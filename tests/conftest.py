from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.harness import MasterProc, short_tmpdir


@pytest.fixture
def master_factory() -> Iterator[Callable[[str], MasterProc]]:
    """Make (not start) masters on configs; every one is shut down and cleaned up after."""
    made: list[MasterProc] = []

    def make(config_text: str) -> MasterProc:
        m = MasterProc(short_tmpdir(), config_text)
        made.append(m)
        return m

    yield make
    for m in made:
        m.cleanup()


@pytest.fixture
def start_master(master_factory: Callable[[str], MasterProc]) -> Callable[[str], MasterProc]:
    """Start a master on `config_text` and wait until it answers."""
    return lambda text: master_factory(text).start()
