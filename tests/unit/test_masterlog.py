"""The master's batched log handler (cli/masterlog.py): every line written, in order, in one
write per loop iteration, and at once where no loop runs."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from procsup.cli import masterlog
from procsup.cli.masterlog import BatchedStreamHandler


class Counting(io.StringIO):
    """A stream that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def logged() -> tuple[logging.Logger, Counting]:
    stream = Counting()
    handler = BatchedStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = logging.getLogger("test_masterlog")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.handlers = [handler]
    return log, stream


def test_outside_a_loop_each_line_is_written_at_once(logged: tuple[logging.Logger, Counting]):
    log, stream = logged
    log.info("one")
    assert stream.getvalue() == "INFO one\n"
    log.warning("two")
    assert stream.getvalue() == "INFO one\nWARNING two\n"


def test_in_a_loop_the_lines_of_one_iteration_go_out_in_one_write(
    logged: tuple[logging.Logger, Counting],
):
    log, stream = logged

    async def main() -> tuple[str, str]:
        for n in range(5):
            log.info("line %d", n)
        held = stream.getvalue()
        await asyncio.sleep(0)  # the iteration ends: the flush runs
        return held, stream.getvalue()

    held, after = asyncio.run(main())
    assert held == ""
    assert after == "".join(f"INFO line {n}\n" for n in range(5))
    assert stream.writes == 1


def test_a_long_burst_without_await_is_written_every_batch(
    logged: tuple[logging.Logger, Counting], monkeypatch: pytest.MonkeyPatch
):
    log, stream = logged
    monkeypatch.setattr(masterlog, "BATCH", 10)

    async def main() -> str:
        for n in range(25):
            log.info("%d", n)
        return stream.getvalue()

    seen = asyncio.run(main())
    assert seen == "".join(f"INFO {n}\n" for n in range(20))
    assert stream.getvalue() == "".join(f"INFO {n}\n" for n in range(25))


def test_flush_writes_what_waits(logged: tuple[logging.Logger, Counting]):
    log, stream = logged

    async def main() -> None:
        log.info("last words")
        log.handlers[0].flush()  # what logging.shutdown does at exit
        assert stream.getvalue() == "INFO last words\n"

    asyncio.run(main())
