"""HttpRounds against real sockets on the loopback: each verdict a probe can give, and a
cancelled check that closes its socket and never answers."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable

import pytest

from procsup.engine.httprounds import HttpRounds
from procsup.engine.probes import http_target


def _server(answer: Callable[[socket.socket], None]) -> tuple[int, socket.socket]:
    """A listening socket whose every connection is handed to `answer` in a thread."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], listener


def _replying(data: bytes) -> Callable[[socket.socket], None]:
    def answer(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(data)
        conn.close()

    return answer


def _check(url: str, timeout: float = 2.0) -> tuple[bool, str]:
    async def run() -> tuple[bool, str]:
        loop = asyncio.get_running_loop()
        rounds = HttpRounds(loop)
        verdict: asyncio.Future[tuple[bool, str]] = loop.create_future()
        target = http_target(url)
        assert target.family is not None
        rounds.check(
            target.family,
            (target.host, target.port),
            target.request,
            timeout,
            lambda ok, detail: verdict.set_result((ok, detail)),
        )
        return await asyncio.wait_for(verdict, timeout + 5)

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", (True, "")),
        (b"HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\n", (True, "")),
        (b"HTTP/1.1 503 Service Unavailable\r\n\r\n", (False, "HTTP 503")),
        (b"SSH-2.0-OpenSSH_9.2\r\n", (False, "http: not an HTTP answer")),
        (b"", (False, "http: not an HTTP answer")),
    ],
)
def test_a_status_line_gives_the_verdict(reply: bytes, verdict: tuple[bool, str]) -> None:
    port, listener = _server(_replying(reply))
    with listener:
        assert _check(f"http://127.0.0.1:{port}/health") == verdict


def test_the_request_names_the_host_and_path_and_a_line_split_in_pieces_is_read_whole() -> None:
    seen: list[bytes] = []

    def answer(conn: socket.socket) -> None:
        seen.append(conn.recv(4096))
        for piece in (b"HTTP/1.1 2", b"04 No Content", b"\r\n\r\n"):
            conn.sendall(piece)
            threading.Event().wait(0.06)  # across rounds
        conn.close()

    port, listener = _server(answer)
    with listener:
        assert _check(f"http://127.0.0.1:{port}/health?i=3") == (True, "")
    assert seen[0].startswith(b"GET /health?i=3 HTTP/1.1\r\nHost: 127.0.0.1:")


def test_a_refused_connection_and_a_silent_server_fail_with_the_reason() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]  # nothing listens once the with ends
    assert _check(f"http://127.0.0.1:{closed_port}/") == (False, "http: Connection refused")
    port, listener = _server(lambda conn: threading.Event().wait(5))
    with listener:
        assert _check(f"http://127.0.0.1:{port}/", timeout=0.3) == (
            False,
            "http: no answer within 300ms",
        )


def test_a_cancelled_check_closes_its_socket_and_never_answers() -> None:
    closed = threading.Event()

    def answer(conn: socket.socket) -> None:
        conn.recv(4096)
        if conn.recv(4096) == b"":  # the probe hung up
            closed.set()

    port, listener = _server(answer)

    async def run() -> list[tuple[bool, str]]:
        loop = asyncio.get_running_loop()
        rounds = HttpRounds(loop)
        answers: list[tuple[bool, str]] = []
        cancel = rounds.check(
            socket.AF_INET,
            ("127.0.0.1", port),
            b"GET / HTTP/1.1\r\n\r\n",
            1.0,
            lambda ok, detail: answers.append((ok, detail)),
        )
        await asyncio.sleep(0.1)
        cancel()
        await asyncio.sleep(1.5)  # past the timeout: a cancelled check says nothing
        return answers

    with listener:
        assert asyncio.run(run()) == []
        assert closed.wait(5)


def test_a_verdict_handler_that_raises_does_not_silence_the_other_checks() -> None:
    port, listener = _server(_replying(b"HTTP/1.1 200 OK\r\n\r\n"))

    async def run() -> list[tuple[bool, str]]:
        loop = asyncio.get_running_loop()
        rounds = HttpRounds(loop)
        answers: list[tuple[bool, str]] = []

        def broken(ok: bool, detail: str) -> None:
            raise RuntimeError("handler bug")

        for done in (broken, lambda ok, detail: answers.append((ok, detail))):
            rounds.check(socket.AF_INET, ("127.0.0.1", port), b"GET / HTTP/1.1\r\n\r\n", 2, done)
        for _ in range(100):
            if answers:
                break
            await asyncio.sleep(0.05)
        return answers

    with listener:
        assert asyncio.run(run()) == [(True, "")]
