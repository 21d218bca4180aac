"""Production: `runserver --prod` (workers, trusted proxies, HTTPS, logs, graceful stop),
`prestart`, and `check --deploy` with each missing item named and the documented settings
clean."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
import pytest
from typer.testing import CliRunner

from fastmango import migrations
from fastmango.accounts.models import User
from fastmango.checks import deploy_checks
from fastmango.db import Database, DatabaseUnavailable
from fastmango.management import prestart
from fastmango.management.server import HeaderDeadlineProtocol, production_options
from settings import Settings, get_settings
from tests.conftest import PostgresFactory, make_settings
from tests.servers import (
    ROOT,
    SERVER_SECRET_KEY,
    Server,
    free_port,
    manage_command,
    running,
    server_env,
)
from tests.utils import cli

ADMIN = "boss@example.com"
SETTING_NAMES = {name.upper() for name in Settings.model_fields}
ADMIN_PASSWORD = "a-long-superuser-passphrase-7"


def good(**overrides: Any) -> Settings:
    """Settings that pass every deploy check (the README's production settings)."""
    values: dict[str, Any] = {
        "environment": "production",
        "secret_key": SERVER_SECRET_KEY,
        "allowed_hosts": ["shop.example.com"],
        "database_url": "postgresql://app:s3cret@db.internal:5432/app",
        "redis_url": "redis://cache.internal:6379/0",
        "web_concurrency": 2,
        "secure_ssl_redirect": True,
        "secure_hsts_seconds": 31536000,
        "secure_hsts_include_subdomains": True,
        "email_backend": "smtp",
    } | overrides
    return Settings(_env_file=None, **values)


# -- check --deploy ------------------------------------------------------------------------


def test_good_settings_pass_every_deploy_check() -> None:
    assert deploy_checks(good()) == []


@pytest.mark.parametrize(
    ("overrides", "message_id"),
    [
        ({"secret_key": "short"}, "security.E009"),
        ({"debug": True}, "security.E018"),
        ({"allowed_hosts": []}, "security.E020"),
        ({"allowed_hosts": ["*"]}, "security.W021"),
        ({"forwarded_allow_ips": ["*"]}, "security.W023"),
        ({"allowed_hosts": ["localhost", "127.0.0.1"]}, "security.W022"),
        ({"session_cookie_secure": False}, "security.W012"),
        ({"secure_ssl_redirect": False}, "security.W008"),
        ({"secure_hsts_seconds": 0}, "security.W004"),
        ({"secure_hsts_include_subdomains": False}, "security.W005"),
        ({"redis_url": None}, "cache.W001"),
        ({"email_backend": "file"}, "email.W001"),
        ({"database_url": "sqlite+aiosqlite:///app.db"}, "database.W001"),
        ({"environment": "development", "session_cookie_secure": True}, "settings.W001"),
    ],
)
def test_each_missing_item_is_reported_with_its_id(
    overrides: dict[str, Any], message_id: str
) -> None:
    assert [m.id for m in deploy_checks(good(**overrides))] == [message_id]


def documented_production_settings() -> dict[str, str]:
    """KEY=VALUE lines of the README's production settings block."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"### Production settings\n.*?```env\n(.*?)```", readme, re.DOTALL)
    assert block, "README.md has no '### Production settings' env block"
    lines = [line for line in block.group(1).splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


@pytest.mark.slow
def test_documented_production_settings_pass_check_deploy(
    postgres: PostgresFactory, redis_url: str, tmp_path: Path
) -> None:
    documented = documented_production_settings()
    assert documented["ENVIRONMENT"] == "production"
    # The placeholders for what only the operator has: real services and secrets here.
    env = server_env(
        **documented
        | {
            "SECRET_KEY": secrets.token_urlsafe(64),
            "DATABASE_URL": postgres.create("fastmango_deploy"),
            "REDIS_URL": redis_url,
            "SUPERUSER_PASSWORD": ADMIN_PASSWORD,
            "MEDIA_ROOT": str(tmp_path / "media"),
        }
    )
    for command in (("prestart",), ("check", "--deploy", "--fail-level", "WARNING")):
        result = subprocess.run(
            manage_command(*command), cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues."


# -- prestart and runserver, in-process ------------------------------------------------------


async def test_prestart_steps_are_idempotent(empty_database_url: str) -> None:
    settings = make_settings(empty_database_url)
    database = Database(settings)
    try:
        for _ in range(2):
            await prestart.wait_for_database(database, seconds=5)
            await prestart.migrate(database, settings)
            await prestart.ensure_superuser(database, settings, ADMIN, ADMIN_PASSWORD)
        states = await migrations.states(database, settings)
        assert all(state.applied for state in states)
        async with database.session():
            users = await User.objects.filter(email=ADMIN).values_list("is_superuser", flat=True)
        assert users == [True]
    finally:
        await database.dispose()


async def test_wait_for_database_gives_up(tmp_path: Path) -> None:
    settings = make_settings(
        "postgresql+asyncpg://u:hunter2-secret@127.0.0.1:1/none", database_connect_timeout=0.5
    )
    database = Database(settings)
    try:
        with pytest.raises(DatabaseUnavailable, match=r"within 0\.5 s") as refused:
            await prestart.wait_for_database(database, seconds=0.5)
        assert "hunter2" not in str(refused.value)
    finally:
        await database.dispose()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for key in [k for k in os.environ if k.upper() in SETTING_NAMES]:
        monkeypatch.delenv(key)
    for key, value in server_env(
        ENVIRONMENT="test",
        SECRET_KEY=SERVER_SECRET_KEY,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        EMAIL_BACKEND="memory",
        LOG_LEVEL="WARNING",
    ).items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_env")
def test_prestart_refuses_half_or_weak_superuser_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = CliRunner()
    monkeypatch.setenv("SUPERUSER_EMAIL", ADMIN)
    half = runner.invoke(cli(), ["prestart"])
    assert half.exit_code == 1
    assert "Set both SUPERUSER_EMAIL and SUPERUSER_PASSWORD" in half.output

    monkeypatch.setenv("SUPERUSER_PASSWORD", "12345678901")
    get_settings.cache_clear()
    weak = runner.invoke(cli(), ["prestart"])
    assert weak.exit_code == 1
    assert "entirely numeric" in weak.output
    assert "12345678901" not in weak.output


@pytest.mark.usefixtures("cli_env")
def test_prod_server_never_reloads() -> None:
    result = CliRunner().invoke(cli(), ["runserver", "--prod", "--reload"])
    assert result.exit_code == 1
    assert "never reloads" in result.output


def test_production_server_options_follow_settings() -> None:
    settings = good(port=9001, web_concurrency=3, graceful_shutdown_seconds=7)
    assert production_options(settings, None, None) == {
        "host": "0.0.0.0",  # noqa: S104 (in a container)
        "port": 9001,
        "workers": 3,
        "http": HeaderDeadlineProtocol,  # REQUEST_HEADER_TIMEOUT for slow clients
        "proxy_headers": False,  # the app reads them (request_guard.py), from the right
        "timeout_graceful_shutdown": 7,
        "reload": False,
        "access_log": False,
        "log_config": None,
        "server_header": False,
    }
    assert production_options(settings, "127.0.0.1", 8123)["port"] == 8123


# -- the real production server ----------------------------------------------------------


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("prod")
    port = free_port()
    env = server_env(
        ENVIRONMENT="production",
        SECRET_KEY=SERVER_SECRET_KEY,
        ALLOWED_HOSTS="shop.example.com,127.0.0.1",
        DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'app.db'}",
        MEDIA_ROOT=str(folder / "media"),
        EMAIL_BACKEND="memory",
        PORT=str(port),
        WEB_CONCURRENCY="2",
        FORWARDED_ALLOW_IPS="127.0.0.1",
        SECURE_SSL_REDIRECT="true",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
        SUPERUSER_EMAIL=ADMIN,
        SUPERUSER_PASSWORD=ADMIN_PASSWORD,
        # uvicorn's supervisor (workers > 1) leaves its listening socket to the interpreter
        # at exit; that ResourceWarning is its own, not ours.
        PYTHONWARNINGS="error,ignore::ResourceWarning",
    )
    prestart = subprocess.run(
        manage_command("prestart"), cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert prestart.returncode == 0, prestart.stdout + prestart.stderr
    assert f"Superuser {ADMIN} created." in prestart.stdout
    assert ADMIN_PASSWORD not in prestart.stdout + prestart.stderr
    command = manage_command("runserver", "--prod", "--host", "127.0.0.1")
    with running(command, env, folder / "server.log", port=port) as server:
        yield server


def https(host: str = "shop.example.com") -> dict[str, str]:
    """What the trusted proxy adds in front of a request that came in over HTTPS."""
    return {"Host": host, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


@pytest.mark.slow
def test_workers_come_from_settings(prod: Server) -> None:
    workers = [
        child
        for child in psutil.Process(prod.process.pid).children()
        if "spawn_main" in " ".join(child.cmdline())
    ]
    assert len(workers) == 2


@pytest.mark.slow
async def test_https_redirect_hsts_and_secure_cookies_behind_the_trusted_proxy(
    prod: Server,
) -> None:
    async with httpx.AsyncClient(base_url=prod.url) as client:
        plain = await client.get("/products?page=2", headers={"Host": "shop.example.com"})
        assert plain.status_code == 301
        assert plain.headers["location"] == "https://shop.example.com/products?page=2"
        assert "server" not in plain.headers

        secure = await client.get("/login", headers=https())
        assert secure.status_code == 200
        assert secure.headers["strict-transport-security"] == (
            "max-age=31536000; includeSubDomains"
        )
        assert "upgrade-insecure-requests" in secure.headers["content-security-policy"]
        assert "; secure" in secure.headers["set-cookie"].lower()

        probe = await client.get("/health/ready", headers={"Host": "10.1.2.3:8000"})
        assert probe.status_code == 200  # plain HTTP, any Host: platforms' probes
        assert (await client.get("/", headers=https("evil.example"))).status_code == 400

    # The same headers from an address that is not a trusted proxy are ignored.
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=prod.url, transport=transport) as untrusted:
        spoofed = await untrusted.get("/login", headers=https())
        assert spoofed.status_code == 301


@pytest.mark.slow
async def test_access_log_is_json_with_request_ids_and_no_query_strings(prod: Server) -> None:
    async with httpx.AsyncClient(base_url=prod.url) as client:
        response = await client.get("/password/reset?token=never-logged-token-123", headers=https())
    rid = response.headers["x-request-id"]

    # The worker writes the access line just after answering: wait for it (with a ceiling).
    def logged() -> bool:
        return any(rid in line and "fastmango.access" in line for line in prod.log().splitlines())

    async with asyncio.timeout(60):
        while not logged():  # noqa: ASYNC110 (a log file has no event to await)
            await asyncio.sleep(0.05)
    lines = [json.loads(line) for line in prod.log().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "request_id", "message"} <= set(e) for e in lines)
    assert not any(e["logger"] == "uvicorn.access" for e in lines)
    mine = [e for e in lines if e["request_id"] == rid]
    assert mine[-1]["logger"] == "fastmango.access"
    assert mine[-1]["path"] == "/password/reset"
    assert mine[-1]["client"] == "203.0.113.9"  # from the trusted proxy's X-Forwarded-For
    assert "never-logged-token-123" not in prod.log()
    assert SERVER_SECRET_KEY not in prod.log()


@pytest.mark.slow
def test_sigterm_stops_gracefully(prod: Server) -> None:
    assert prod.stop() == 0
    messages = [json.loads(line)["message"] for line in prod.log().splitlines() if line]
    assert "Shutting down" in messages
    assert sum(m.startswith("Finished server process") for m in messages) == 2
