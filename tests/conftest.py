from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

import pytest

from tests.harness import MasterProc, short_tmpdir
from tests.redis_server import RedisServer


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


def _redis_server_binary() -> str:
    """The redis-server path; skip without one, but fail in CI where it must be installed."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(
            "redis-server not installed, and CI=true: the redis lock tests must run in CI; "
            "install it (apt-get install redis-server) in the CI image"
        )
    pytest.skip("redis-server not installed")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server of this test's own, free to stop, pause and restart."""
    server = RedisServer(_redis_server_binary())
    try:
        yield server.start()
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def redis_server_session() -> Iterator[RedisServer]:
    """One redis-server shared by the session; tests must use their own key names."""
    server = RedisServer(_redis_server_binary())
    try:
        yield server.start()
    finally:
        server.cleanup()
