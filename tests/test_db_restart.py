"""PostgreSQL restarts while 20 clients register for a webinar on a real server process.

Every answer is a 201, a 503 with Retry-After (then the client retries) or, for a retry
whose first try was stored after all, a 409: never a 500, never a connection closed
without an answer, and every acknowledged registration is in the database afterwards.
Event-driven: PostgreSQL stops after STOP_AFTER acknowledged writes and starts again after
START_AFTER 503s; the run is bounded by the number of registrations, not by the clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from fastmango import migrations
from fastmango.db import Database
from tests.conftest import make_settings
from tests.servers import (
    SERVER_SECRET_KEY,
    Server,
    free_port,
    manage_command,
    own_postgres,
    running,
    server_env,
)
from tests.utils import make_webinar

WRITERS = 20
REGISTRATIONS_EACH = 8
STOP_AFTER = 40  # acknowledged writes before PostgreSQL stops
START_AFTER = 40  # 503s seen while it is away before it starts again
CEILING = 120.0  # seconds; a safety net for a hung run, not an expectation

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pg() -> Iterator[Any]:
    yield from own_postgres("restart")


@pytest.fixture
async def database_url(pg: Any) -> str:
    pg.psql("CREATE DATABASE restart;")
    url: str = pg.get_uri(database="restart", driver="asyncpg")
    database = Database(make_settings(url))
    try:
        await migrations.upgrade(database, migrations.migration_settings(make_settings(url)))
    finally:
        await database.dispose()
    return url


@pytest.fixture
async def webinar_id(database_url: str) -> int:
    database = Database(make_settings(database_url))
    try:
        async with database.session():
            webinar = await make_webinar(title="Restart-proof")
    finally:
        await database.dispose()
    assert webinar.id is not None
    return webinar.id


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    env = server_env(
        ENVIRONMENT="test",
        SECRET_KEY=SERVER_SECRET_KEY,
        DATABASE_URL=database_url,
        EMAIL_BACKEND="memory",
        PORT=str(port),
        # Short limits: a request waits at most a few seconds for a database that is away.
        DATABASE_CONNECT_TIMEOUT="2",
        DATABASE_POOL_TIMEOUT="5",
        DATABASE_COMMAND_TIMEOUT="10",
        LOG_FORMAT="text",
    )
    command = manage_command("runserver", "--prod", "--host", "127.0.0.1")
    with running(command, env, tmp_path / "server.log", port=port) as server:
        yield server


@dataclass
class Tally:
    """What the clients saw, and the events that drive PostgreSQL's stop and start."""

    acknowledged: set[str] = field(default_factory=set)  # answered 201
    stored_on_retry: set[str] = field(default_factory=set)  # 409 after a 503: it was stored
    unavailable: int = 0
    problems: list[str] = field(default_factory=list)
    stopping: bool = False
    enough_writes: asyncio.Event = field(default_factory=asyncio.Event)
    enough_refusals: asyncio.Event = field(default_factory=asyncio.Event)

    def ack(self, email: str) -> None:
        self.acknowledged.add(email)
        if len(self.acknowledged) >= STOP_AFTER:
            self.enough_writes.set()

    def refused(self) -> None:
        if self.stopping:
            self.unavailable += 1
            if self.unavailable >= START_AFTER:
                self.enough_refusals.set()


async def register(client: httpx.AsyncClient, path: str, email: str, tally: Tally) -> None:
    """Register `email`, retrying after each 503 as a client honouring Retry-After would."""
    retried = False
    while True:
        try:
            response = await client.post(path, json={"name": "Writer", "email": email})
        except httpx.TransportError as exc:  # closed without an answer
            tally.problems.append(f"{email}: {type(exc).__name__} {exc}")
            return
        if response.status_code == 201:
            tally.ack(email)
            return
        if response.status_code == 409 and retried:
            tally.stored_on_retry.add(email)
            return
        if response.status_code == 503 and response.headers.get("retry-after"):
            tally.refused()
            retried = True
            await asyncio.sleep(0)  # let the others run; the next try is immediate
            continue
        tally.problems.append(f"{email}: {response.status_code} {response.text[:200]}")
        return


async def writer(url: str, path: str, number: int, tally: Tally) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for i in range(REGISTRATIONS_EACH):
            await register(client, path, f"writer{number}-{i}@example.com", tally)


async def restart_postgres(pg: Any, server: Server, tally: Tally) -> None:
    await tally.enough_writes.wait()
    tally.stopping = True
    await asyncio.to_thread(pg.stop)  # fast shutdown: sessions in flight are cut
    await tally.enough_refusals.wait()
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        ready = await client.get("/health/ready")
    assert ready.status_code == 503
    await asyncio.to_thread(pg.start)


async def stored_emails(database_url: str) -> set[str]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT email FROM webinar_registrants"))
            return {row[0] for row in rows}
    finally:
        await engine.dispose()


async def test_writes_survive_a_database_restart(
    pg: Any, server: Server, webinar_id: int, database_url: str
) -> None:
    tally = Tally()
    path = f"/api/v1/webinars/{webinar_id}/register"
    async with asyncio.timeout(CEILING):
        async with asyncio.TaskGroup() as group:  # one failing task cancels the others
            restart = group.create_task(restart_postgres(pg, server, tally))
            writers = [
                group.create_task(writer(server.url, path, n, tally)) for n in range(WRITERS)
            ]
            await asyncio.wait(writers)
            if tally.stopping:
                tally.enough_refusals.set()  # it starts again even if the writers gave up
            else:  # every write went through before PostgreSQL stopped
                restart.cancel()
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            assert (await client.get("/health/ready")).status_code == 200

    assert tally.problems == []
    assert tally.unavailable >= START_AFTER  # the outage really happened under load
    stored = await stored_emails(database_url)
    assert tally.acknowledged <= stored  # no acknowledged write was lost
    everyone = {
        f"writer{n}-{i}@example.com" for n in range(WRITERS) for i in range(REGISTRATIONS_EACH)
    }
    assert stored == everyone
    log = server.log()
    assert "Traceback" not in log
    assert "Exception in ASGI application" not in log
