"""Two real server processes behind an imaginary load balancer, sharing one PostgreSQL and
one Redis: sessions, logouts, login throttling and the cache hold across both."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.conftest import PostgresFactory
from tests.servers import (
    ROOT,
    SERVER_SECRET_KEY,
    Server,
    free_port,
    manage_command,
    running,
    server_env,
)
from tests.utils import csrf_token

pytestmark = pytest.mark.slow
ADMIN = "ops@example.com"
PASSWORD = "a-long-superuser-passphrase-7"


@pytest.fixture(scope="module")
def shared(
    postgres: PostgresFactory, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[list[Server], str]]:
    """Two production servers (one worker each) on one database and one Redis."""
    folder = tmp_path_factory.mktemp("multi")
    database_url = postgres.create("fastmango_multi")
    env = server_env(
        ENVIRONMENT="production",
        SECRET_KEY=SERVER_SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        # Plain HTTP here, so the session cookie must travel without TLS.
        SESSION_COOKIE_SECURE="false",
        EMAIL_BACKEND="memory",
        MEDIA_ROOT=str(folder / "media"),
        SUPERUSER_EMAIL=ADMIN,
        SUPERUSER_PASSWORD=PASSWORD,
        WEB_CONCURRENCY="1",
    )
    subprocess.run(manage_command("prestart"), cwd=ROOT, env=env, check=True, capture_output=True)
    with ExitStack() as stack:
        servers = []
        for name in ("a", "b"):
            port = free_port()
            command = manage_command("runserver", "--prod", "--host", "127.0.0.1")
            log = folder / f"{name}.log"
            servers.append(
                stack.enter_context(running(command, env | {"PORT": str(port)}, log, port=port))
            )
        yield servers, database_url


@pytest.fixture
async def clients(
    shared: tuple[list[Server], str], redis_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()  # no sessions, counts or cache entries from an earlier test
    await redis.aclose()
    servers, _ = shared
    async with (
        httpx.AsyncClient(base_url=servers[0].url) as first,
        httpx.AsyncClient(base_url=servers[1].url) as second,
    ):
        yield first, second


async def test_bearer_token_and_its_revocation_are_shared(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, second = clients
    login = await first.post("/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD})
    assert login.status_code == 200
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me = await second.get("/api/v1/users/me", headers=auth)
    assert me.status_code == 200
    assert me.json()["email"] == ADMIN
    assert (await second.post("/api/v1/auth/logout", headers=auth)).status_code == 204
    assert (await first.get("/api/v1/users/me", headers=auth)).status_code == 401
    assert (await second.get("/api/v1/users/me", headers=auth)).status_code == 401


async def test_browser_session_and_logout_are_shared(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, second = clients
    form = {"email": ADMIN, "password": PASSWORD, "next": "/account"}
    signed_in = await first.post("/login", data=form | {"csrf_token": await csrf_token(first)})
    assert signed_in.status_code == 303
    # The browser's cookies (session and signed state), now presented to the other instance.
    second.cookies = first.cookies
    account = await second.get("/account")
    assert account.status_code == 200
    assert ADMIN in account.text

    # Logging out on the second instance ends the session on the first as well.
    token = await csrf_token(second, "/account")
    session = first.cookies["fastmango_session"]
    assert (await second.post("/logout", data={"csrf_token": token})).status_code == 303
    first.cookies.set("fastmango_session", session)  # a stale copy of the cookie
    revoked = await first.get("/account")
    assert revoked.status_code == 303
    assert revoked.headers["location"].startswith("/login")


async def test_login_throttling_counts_across_instances(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    wrong = {"username": ADMIN, "password": "not-the-password"}
    for attempt in range(5):
        response = await clients[attempt % 2].post("/api/v1/auth/token", data=wrong)
        assert response.status_code == 401
    right = {"username": ADMIN, "password": PASSWORD}
    for client in clients:
        refused = await client.post("/api/v1/auth/token", data=right)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0


async def test_cached_values_and_their_invalidation_are_shared(
    shared: tuple[list[Server], str],
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    redis_url: str,
) -> None:
    first, second = clients
    _, database_url = shared
    token = await first.post("/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD})
    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
    probe = {"name": "Cache probe", "price": "3.00", "category": "Probecategory"}
    assert (await first.post("/api/v1/products", json=probe, headers=auth)).status_code == 201

    # The first instance computes the catalogue's categories and caches them in Redis.
    assert "Probecategory" in (await first.get("/products")).text
    redis = Redis.from_url(redis_url)
    try:
        assert await redis.exists("fastmango:cache:products:categories")
    finally:
        await redis.aclose()

    # Remove the row behind the cache's back: only a cached copy can still name it.
    engine = create_async_engine(database_url, poolclass=NullPool)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM products WHERE category = 'Probecategory'"))
    await engine.dispose()
    assert "Probecategory" in (await second.get("/products")).text

    # A change through the second instance drops the entry for both.
    other = {"name": "Another", "price": "4.00", "category": "Tools"}
    assert (await second.post("/api/v1/products", json=other, headers=auth)).status_code == 201
    assert "Probecategory" not in (await first.get("/products")).text


def test_both_processes_served_requests(shared: tuple[list[Server], str]) -> None:
    first, second = shared[0]
    assert first.process.pid != second.process.pid
    for server in (first, second):
        assert '"logger": "fastmango.access"' in server.log(), server.log_path.name
