"""Descriptor accounting: the estimate `check` prints, the reserve a spawn may not eat, and
waiting for exits when no pidfd can be had. Limits are lowered in this process for a moment."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import threading

import pytest

from procsup.engine import fdlimit
from procsup.engine.pidsignal import wait_gone
from tests.harness import soft_limit


def test_estimate_counts_pipes_and_log_files() -> None:
    need = fdlimit.estimate([(300, False), (10, True)], [False, True])
    base = fdlimit.MASTER_BASE + fdlimit.RESERVE
    held = fdlimit.HELD_PER_INSTANCE  # kept open for `list` with stats
    assert need.total == base + 300 * (4 + held) + 10 * (2 + held) + 6 + 4
    assert need.instances == 310
    assert fdlimit.shortfall_message(need, 1 << 20) is None
    message = fdlimit.shortfall_message(need, 1024)
    assert message is not None and message.startswith("the open-file limit is 1024")
    assert "LimitNOFILE=" in message


def test_a_spawn_may_not_eat_the_reserve() -> None:
    soft = 256  # a reserve of RESERVE (64) out of it
    room = soft - fdlimit.RESERVE - fdlimit.SPAWN_FDS  # descriptors that may be open before
    filler = [os.open("/dev/null", os.O_RDONLY) for _ in range(room - fdlimit.count_open())]
    try:
        with soft_limit(soft):
            fdlimit.Budget().ensure()  # exactly enough room
            filler.append(os.open("/dev/null", os.O_RDONLY))
            with pytest.raises(OSError) as raised:
                fdlimit.Budget().ensure()
            assert raised.value.errno == errno.EMFILE
            assert "Too many open files" in str(raised.value)
    finally:
        for fd in filler:
            os.close(fd)


def test_waiting_for_an_exit_without_a_free_descriptor() -> None:
    proc = subprocess.Popen(["sleep", "0.3"])
    threading.Thread(target=proc.wait, daemon=True).start()  # reaps it, as the master's reaper

    async def main() -> set[int]:
        filler: list[int] = []
        with soft_limit(fdlimit.count_open() + 20):
            try:
                while True:
                    filler.append(os.open("/dev/null", os.O_RDONLY))
            except OSError:
                pass
            try:
                return await wait_gone([proc.pid], 5)
            finally:
                for fd in filler:
                    os.close(fd)

    assert asyncio.run(main()) == set()
    assert proc.returncode == 0
