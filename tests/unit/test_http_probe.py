"""The HTTP probe's request on a bare socket, against real servers on this loop: the status
decides, a name is resolved and each of its addresses tried, a non-HTTP answer and a refused
connection are failures with a reason."""

from __future__ import annotations

import asyncio
import socket

import pytest

from procsup.engine.probes import http, http_target


async def serve(answer: bytes) -> tuple[asyncio.AbstractServer, int, list[bytes]]:
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], requests


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", (True, "")),
        (b"HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\n", (True, "")),
        (b"HTTP/1.1 503 Service Unavailable\r\n\r\n", (False, "HTTP 503")),
        (b"SSH-2.0-OpenSSH_9.2\r\n", (False, "http: not an HTTP answer")),
        (b"", (False, "http: not an HTTP answer")),
    ],
)
def test_the_status_line_decides(answer: bytes, verdict: tuple[bool, str]) -> None:
    async def scenario() -> None:
        server, port, requests = await serve(answer)
        async with server:
            assert await http(f"http://127.0.0.1:{port}/health?i=3") == verdict
        assert requests[0].startswith(b"GET /health?i=3 HTTP/1.1\r\n")
        assert f"Host: 127.0.0.1:{port}\r\n".encode() in requests[0]

    asyncio.run(scenario())


def test_a_name_is_resolved_and_every_address_tried() -> None:
    """`localhost` may resolve to ::1 first while the server listens on 127.0.0.1 only."""

    async def scenario() -> None:
        server, port, _requests = await serve(b"HTTP/1.1 204 No Content\r\n\r\n")
        async with server:
            assert await http(f"http://localhost:{port}/") == (True, "")

    asyncio.run(scenario())


def test_a_refused_connection_raises_for_the_prober_to_report() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(ConnectionRefusedError):
            asyncio.run(http(f"http://127.0.0.1:{port}/"))


def test_urls_are_taken_apart_once() -> None:
    target = http_target("http://[::1]:8080/a")
    assert (target.host, target.port, target.family) == ("::1", 8080, socket.AF_INET6)
    assert http_target("https://example.org/").port == 443
    assert http_target("http://example.org/").family is None
    assert http_target("http://u:p@127.0.0.1:81/").request.startswith(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:81\r\n"
    )
