"""The one client and the typed contract against a real master: state events carry the whole
row (the same row `list` gives), program events the program's rows, both faces of the client
answer alike, and a master of another protocol version gets one clear line, not a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from procsup.control.asyncclient import AsyncClient
from procsup.control.client import Client, NoMaster, VersionMismatch
from procsup.control.protocol import PROTOCOL_VERSION
from procsup.core import schema
from tests.harness import PY, MasterProc, child, short_tmpdir

CONFIG = f"""
[programs.w]
command = "{child("sleeper.py")}"
start_seconds = 0
stop_timeout = "2s"
"""


def events_until(client: Client, done: Any, limit: int = 200) -> list[dict[str, Any]]:
    seen = []
    for item in client.stream("events"):
        seen.append(item)
        if done(item) or len(seen) >= limit:
            return seen
    return seen


def test_state_events_carry_the_row_list_gives(start_master: Any) -> None:
    m: MasterProc = start_master(CONFIG)
    with Client(m.socket, timeout=10) as watcher, Client(m.socket, timeout=10) as actor:
        items = iter(watcher.stream("events"))
        assert next(items)["type"] == "snapshot"
        actor.call("stop", {"names": ["w:0"]})
        stopped = next(i for i in items if i["type"] == "state" and i["to"] == "STOPPED")
        row = stopped["row"]
        assert set(row) == schema.InstanceRow.__required_keys__
        assert row["state"] == "STOPPED" and row["pid"] is None and row["last_exit"] == -15
        assert row["last_exit_reason"] == stopped["reason"]
        assert row["overrides"][0]["kind"] == "stopped"  # the user's stop, as `list` says
        listed = actor.call("list", {"names": ["w:0"], "stats": False})["instances"][0]
        assert {k: v for k, v in listed.items() if k != "uptime"} == {
            k: v for k, v in row.items() if k != "uptime"
        }
        actor.call("scale", {"program": "w", "numprocs": 2})
        scaled = next(i for i in items if i["type"] == "program" and i["event"] == "scaled")
        assert [r["name"] for r in scaled["instances"]] == ["w:0", "w:1"]
        assert all(set(r) == schema.InstanceRow.__required_keys__ for r in scaled["instances"])


def test_the_asyncio_face_answers_as_the_blocking_one(start_master: Any) -> None:
    m: MasterProc = start_master(CONFIG)

    async def ask() -> tuple[Any, Any]:
        client = AsyncClient(m.socket)
        listed = await client.call("list", {"stats": False})
        stream = client.stream("events")
        first = await anext(stream)
        await stream.aclose()
        return listed, first

    listed, first = asyncio.run(ask())
    assert [r["name"] for r in listed["instances"]] == ["w:0"]
    assert first["type"] == "snapshot" and first["master"]["protocol"] == PROTOCOL_VERSION
    with Client(m.socket) as client:
        assert client.master is not None and client.master["pid"] == m.proc.pid


@pytest.fixture
def other_version() -> Iterator[str]:
    """A peer on a real unix socket that answers `hello` as a master of protocol 99 would.
    (No real master of another version exists to start: this is the one stand-in.)"""
    folder = short_tmpdir()
    path = os.path.join(folder, "old.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn, conn.makefile("rb") as lines:
                for line in lines:
                    req = json.loads(line)
                    result = {"version": "9.0.0", "protocol": 99, "pid": 1}
                    conn.sendall(json.dumps({"id": req["id"], "ok": True, "result": result})
                                 .encode() + b"\n")  # fmt: skip

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        stop.set()
        thread.join()
        server.close()
        shutil.rmtree(folder)


def test_another_protocol_version_is_one_clear_line(other_version: str) -> None:
    said = re.escape("speaks protocol 99 (procsup 9.0.0), this client protocol")
    with pytest.raises(VersionMismatch, match=said):
        Client(other_version).connect()
    with pytest.raises(VersionMismatch):
        asyncio.run(AsyncClient(other_version).call("list"))
    cli = subprocess.run(
        [PY, "-m", "procsup", "--socket", other_version, "-c", "/nonexistent.toml", "list"],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", os.getcwd())),
    )
    assert cli.returncode == 1, cli.stderr
    assert cli.stderr.count("\n") == 1 and "speaks protocol 99" in cli.stderr
    assert "Traceback" not in cli.stderr


def test_no_master_is_one_error_family() -> None:
    path = "/tmp/procsup-no-such-dir/none.sock"
    with pytest.raises(NoMaster) as blocking:
        Client(path).connect()
    with pytest.raises(NoMaster) as asyncio_face:
        asyncio.run(AsyncClient(path).call("list"))
    assert blocking.value.code == asyncio_face.value.code == "no_master"
