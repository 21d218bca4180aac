"""Slow clients cannot hold connections: on a real server, a request whose headers or body
stop short is answered 408 (if it said anything) and its connection closed.

The limits are 1 s here (REQUEST_HEADER_TIMEOUT, REQUEST_BODY_TIMEOUT); the tests wait for
the server to close the connection, with a ceiling far above them, and assume no duration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import Server, free_port, manage_command, running, sqlite_server_env

CEILING = 60.0  # seconds; a connection still open by then was never going to be closed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("slow-clients")
    port = free_port()
    env = sqlite_server_env(
        folder,
        port,
        REQUEST_HEADER_TIMEOUT="1",
        REQUEST_BODY_TIMEOUT="1",
        LOG_FORMAT="text",
    )
    command = manage_command("runserver", "--prod", "--host", "127.0.0.1")
    with running(command, env, Path(folder) / "server.log", port=port) as server:
        yield server


async def until_closed(server: Server, sent: bytes) -> bytes:
    """Send `sent`, then read until the server closes the connection; what it answered."""
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(sent)
        await writer.drain()
        async with asyncio.timeout(CEILING):
            return await reader.read()  # up to EOF: the server closed the connection
    finally:
        writer.close()


async def test_a_silent_connection_is_closed(server: Server) -> None:
    assert await until_closed(server, b"") == b""


async def test_unfinished_headers_get_408_and_a_close(server: Server) -> None:
    answer = await until_closed(server, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: ")
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"connection: close" in answer.lower()


async def test_a_body_short_of_its_length_gets_408_and_a_close(server: Server) -> None:
    head = (
        b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    answer = await until_closed(server, head + b'{"email": "slow@example.com", ')
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"connection: close" in answer.lower()
    assert b'"code":"timeout"' in answer
    assert b"x-request-id" in answer.lower()  # answered inside the app's middleware


async def test_whole_requests_are_still_served(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/health")).status_code == 200
        token = await client.post("/api/v1/auth/token", json={"email": "a@example.com"})
        assert token.status_code in (400, 422)  # answered, not timed out
