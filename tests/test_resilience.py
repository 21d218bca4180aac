"""The database goes away mid-run: requests fail fast with 503 (an HTML page for browsers,
the JSON error shape for the API), readiness says so, and the app recovers by itself.

A PostgreSQL server of its own (its own data directory), stopped and started here, so the
other tests' server is never touched.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text

from fastmango import migrations
from fastmango.db import Database, SessionDep
from main import create_app
from settings import Settings
from tests.conftest import make_settings
from tests.servers import ROOT, manage_command, own_postgres, server_env
from tests.utils import PASSWORD, bearer, login, make_product, make_user, serve

# A ceiling for a hung request, not an expectation: with the connect and statement limits
# at 1 s here, answers come long before it; without them, requests would hang forever.
CEILING = 60.0


@pytest.fixture(scope="module")
def pg() -> Iterator[Any]:
    yield from own_postgres("resilience")


@pytest.fixture
async def settings(pg: Any, request: pytest.FixtureRequest) -> Settings:
    name = f"resilience_{request.node.name.removeprefix('test_')[:40]}"
    pg.psql(f"CREATE DATABASE {name};")
    settings = make_settings(
        pg.get_uri(database=name, driver="asyncpg"),
        database_connect_timeout=1.0,
        database_command_timeout=1.0,
        database_pool_timeout=1.0,
    )
    database = Database(settings)
    await migrations.upgrade(database, migrations.migration_settings(settings))
    async with database.session():
        await make_user(email="steady@example.com", is_staff=True, is_superuser=True)
        await make_product(name="Steady lamp")
    await database.dispose()
    return settings


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(create_app(settings)) as client:
        yield client


async def answered(client: httpx.AsyncClient, path: str, **kwargs: Any) -> httpx.Response:
    """GET `path`; a request still unanswered after CEILING seconds fails the test."""
    async with asyncio.timeout(CEILING):
        return await client.get(path, **kwargs)


async def assert_everything_works(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    assert (await answered(client, "/health/ready")).json() == {"status": "ok", "database": "ok"}
    assert (await answered(client, "/", headers={"Accept": "text/html"})).status_code == 200
    products = await answered(client, "/api/v1/products")
    assert products.status_code == 200
    assert products.json()["items"][0]["name"] == "Steady lamp"
    assert (await answered(client, "/api/v1/users/me", headers=auth)).status_code == 200


async def assert_unavailable(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    ready = await answered(client, "/health/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    page = await answered(client, "/", headers={"Accept": "text/html"})
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text
    assert "503" in page.text
    assert "try again" in page.text
    api = await answered(client, "/api/v1/products")
    assert api.status_code == 503
    assert api.json() == {
        "detail": "The service is briefly unavailable. Please try again in a moment.",
        "code": "unavailable",
    }
    assert api.headers["retry-after"] == "5"
    assert (await answered(client, "/api/v1/users/me", headers=auth)).status_code == 503


def postgres_processes(pg: Any) -> list[psutil.Process]:
    postmaster = psutil.Process(pg.get_pid())
    return [postmaster, *postmaster.children(recursive=True)]


async def test_stopped_database_gives_503_then_recovers(pg: Any, client: httpx.AsyncClient) -> None:
    auth = await bearer(client, "steady@example.com", PASSWORD)
    await assert_everything_works(client, auth)

    await asyncio.to_thread(pg.stop)  # a fast shutdown: open connections are cut
    await assert_unavailable(client, auth)

    await asyncio.to_thread(pg.start)
    await assert_everything_works(client, auth)  # same app, same pool, no restart


async def test_admin_pages_get_the_503_page_too(pg: Any, client: httpx.AsyncClient) -> None:
    await login(client, "steady@example.com", next="/admin/")
    assert (await answered(client, "/admin/product/list")).status_code == 200
    await asyncio.to_thread(pg.stop)
    try:
        page = await answered(client, "/admin/product/list")
        assert page.status_code == 503
        assert "try again" in page.text
        assert page.headers["content-type"].startswith("text/html")
    finally:
        await asyncio.to_thread(pg.start)
    assert (await answered(client, "/admin/product/list")).status_code == 200


async def test_hung_database_fails_fast_then_recovers(pg: Any, client: httpx.AsyncClient) -> None:
    auth = await bearer(client, "steady@example.com", PASSWORD)
    await assert_everything_works(client, auth)  # the pool holds live connections now

    processes = postgres_processes(pg)
    for process in processes:  # the server accepts but never answers (a network stall)
        process.send_signal(signal.SIGSTOP)
    try:
        await assert_unavailable(client, auth)
    finally:
        for process in processes:
            process.send_signal(signal.SIGCONT)
    await assert_everything_works(client, auth)


async def test_losing_the_connection_after_answering_is_not_an_error(
    pg: Any, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The session's connection dies after the handler answered: closing it (a rollback on
    a dead connection) fails outside every handler; the answer stands, no error logged."""
    app = create_app(settings)
    killer = Database(settings)

    @app.get("/answer-then-lose-the-connection")
    async def answer_then_lose(session: SessionDep) -> dict[str, str]:
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with killer.engine.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return {"status": "answered"}

    try:
        async with serve(app) as client:
            response = await answered(client, "/answer-then-lose-the-connection")
            assert response.status_code == 200
            assert response.json() == {"status": "answered"}
            assert (await answered(client, "/api/v1/products")).status_code == 200  # pool fine
    finally:
        await killer.dispose()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Database unavailable after answering" in caplog.text


@pytest.mark.slow
async def test_prestart_waits_for_the_database(pg: Any) -> None:
    pg.psql("CREATE DATABASE waiting;")
    env = server_env(
        ENVIRONMENT="test",
        SECRET_KEY="prestart-wait-" + "k" * 10 + "Zq8pW3nT7vK1xL5mB9cR2dF6gH0jY4uE",
        DATABASE_URL=pg.get_uri(database="waiting", driver="asyncpg"),
        DATABASE_CONNECT_TIMEOUT="1",
        EMAIL_BACKEND="memory",
        SUPERUSER_EMAIL="first@example.com",
        SUPERUSER_PASSWORD="a-long-superuser-passphrase-7",
        LOG_FORMAT="json",
    )
    await asyncio.to_thread(pg.stop)
    lines: list[str] = []
    try:
        process = await asyncio.create_subprocess_exec(
            *manage_command("prestart", "--wait", "120"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert process.stdout is not None
        async with asyncio.timeout(CEILING):  # it starts, finds nobody, and says it waits
            while not any("Waiting for the database" in line for line in lines):
                line = (await process.stdout.readline()).decode()
                assert line, "prestart ended without waiting:\n" + "".join(lines)
                lines.append(line)
        assert process.returncode is None
    finally:
        await asyncio.to_thread(pg.start)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=CEILING)
    printed = "".join(lines) + output.decode()
    assert process.returncode == 0, printed
    assert "Superuser first@example.com created." in printed
    assert "a-long-superuser-passphrase-7" not in printed
