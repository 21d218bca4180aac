"""Logs: JSON lines in production and text in development, a request id on every line and
in the X-Request-ID header, one access line per request, and no secret anywhere."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fastmango.logging_setup import configure_logging, redact
from main import create_app
from settings import Settings
from tests.utils import PASSWORD, csrf_token, make_user, serve

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
RESET_TOKEN = "reset-token-that-must-not-be-logged-0123456789"
DB_PASSWORD = "db-pass-never-logged"


@pytest.fixture
async def logged(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, io.StringIO]]:
    """A client on an app whose log lines (INFO and up) are written to a buffer."""
    settings = settings.model_copy(update={"log_level": "INFO", "log_format": "json"})
    app = create_app(settings)
    buffer = io.StringIO()
    configure_logging(settings, stream=buffer)
    async with serve(app) as client:
        yield client, buffer


def entries(buffer: io.StringIO) -> list[dict[str, Any]]:
    lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is one JSON object


def access(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [e for e in entries(buffer) if e["logger"] == "fastmango.access"]


@sqlite_only
async def test_json_lines_with_request_id_and_access_fields(
    logged: tuple[httpx.AsyncClient, io.StringIO],
) -> None:
    client, buffer = logged
    response = await client.get("/api/v1/products?page=1")
    line = access(buffer)[-1]
    assert set(line) >= {"time", "level", "logger", "request_id", "message"}
    assert line["request_id"] == response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/products", 200)
    assert isinstance(line["duration_ms"], float)
    assert line["message"] == f"GET /api/v1/products 200 {line['duration_ms']:.1f}ms"
    assert line["time"].endswith("+00:00")


@sqlite_only
async def test_incoming_request_ids_only_when_safe(
    logged: tuple[httpx.AsyncClient, io.StringIO],
) -> None:
    client, buffer = logged
    kept = await client.get("/", headers={"X-Request-ID": "edge-1234.abcd_EF"})
    assert kept.headers["x-request-id"] == "edge-1234.abcd_EF"
    for unsafe in ("a b", "x" * 65, "<script>", "id;rm -rf", ""):
        response = await client.get("/", headers={"X-Request-ID": unsafe})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"]), unsafe
    ids = [line["request_id"] for line in access(buffer)]
    assert ids[0] == "edge-1234.abcd_EF"
    assert len(set(ids)) == len(ids)


@sqlite_only
async def test_every_line_of_a_request_carries_its_id(settings: Settings) -> None:
    settings = settings.model_copy(update={"log_level": "INFO", "log_format": "json"})
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    buffer = io.StringIO()
    configure_logging(settings, stream=buffer)
    async with serve(app) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    rid = response.headers["x-request-id"]
    lines = [e for e in entries(buffer) if e["logger"] != "httpx"]
    assert [(e["logger"], e["request_id"]) for e in lines] == [
        ("fastmango.access", rid),
        ("fastmango.errors", rid),  # Starlette's handler runs after the middleware
    ]
    assert "RuntimeError: a bug" in lines[1]["exception"]


@sqlite_only
@pytest.mark.usefixtures("session")
async def test_no_secret_reaches_the_log(
    logged: tuple[httpx.AsyncClient, io.StringIO], caplog: pytest.LogCaptureFixture
) -> None:
    client, buffer = logged
    await make_user(email="secret@example.com")
    token = (
        await client.post(
            "/api/v1/auth/token", data={"username": "secret@example.com", "password": PASSWORD}
        )
    ).json()["access_token"]
    await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    form = {"email": "secret@example.com", "password": PASSWORD}
    await client.post("/login", data=form | {"csrf_token": await csrf_token(client)})
    session = client.cookies.get("fastmango_session")
    assert session
    await client.get("/account")  # the session cookie goes along
    await client.get(f"/password/reset?token={RESET_TOKEN}")
    await client.post(
        "/api/v1/auth/token", data={"username": "secret@example.com", "password": "Wrong-pass-9"}
    )
    # Code that logs carelessly is scrubbed too: URLs with passwords, key=value pairs,
    # an exception carrying a token.
    log = logging.getLogger("fastmango.test")
    log.warning("connecting to postgresql+asyncpg://app:%s@db.internal/app", DB_PASSWORD)
    log.warning("login attempt password=%s token: %s", PASSWORD, token)
    try:
        raise ValueError(f"Authorization: Bearer {token}")
    except ValueError:
        log.exception("request failed")

    text = buffer.getvalue()
    assert entries(buffer)  # still one JSON object a line
    for secret in (PASSWORD, token, session, RESET_TOKEN, DB_PASSWORD, "Wrong-pass-9"):
        assert secret not in text, secret
    assert "postgresql+asyncpg://app:***@db.internal/app" in text
    paths = [line["path"] for line in access(buffer)]
    assert "/password/reset" in paths  # logged, without its query string
    assert "?" not in "".join(paths)


def test_redact() -> None:
    assert redact("redis://:pw123456@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redact("Authorization: Bearer abcdefghijkl") == "Authorization: ***"
    assert redact("got bearer abcdefghijkl") == "got bearer ***"
    assert redact('{"password": "x y"}') == '{"password": ***}'
    assert redact("SUPERUSER_PASSWORD=hunter2 next") == "SUPERUSER_PASSWORD=*** next"
    assert redact("the token expired") == "the token expired"
    assert redact("GET /products 200 1.2ms") == "GET /products 200 1.2ms"


@sqlite_only
async def test_text_lines_in_development(settings: Settings) -> None:
    development = settings.model_copy(update={"environment": "development", "log_level": "INFO"})
    assert not development.json_logs
    assert development.model_copy(update={"environment": "production"}).json_logs
    assert development.model_copy(update={"log_format": "json"}).json_logs
    app = create_app(development)
    buffer = io.StringIO()
    configure_logging(development, stream=buffer)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        response = await client.get("/api/v1/products")
    rid = response.headers["x-request-id"]
    assert re.search(
        rf"^\d{{4}}-\d\d-\d\d [\d:,]+ INFO fastmango.access \[{rid}\] "
        r"GET /api/v1/products 200 [\d.]+ms$",
        buffer.getvalue(),
        re.MULTILINE,
    )


@sqlite_only
async def test_probes_stay_out_of_the_info_log(
    logged: tuple[httpx.AsyncClient, io.StringIO],
) -> None:
    client, buffer = logged
    await client.get("/health")
    await client.get("/health/ready")
    assert access(buffer) == []
