"""Liveness and readiness, on both databases and with the database gone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from main import create_app
from tests.conftest import make_settings
from tests.utils import count_queries


async def test_liveness_never_touches_the_database(client: httpx.AsyncClient, app: Any) -> None:
    with count_queries(app.state.db.engine) as queries:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert queries.count == 0


async def test_readiness_pings_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://fastmango:hunter2-secret@127.0.0.1:1/fastmango",
        "sqlite+aiosqlite:///{missing}/no/such/dir/app.db",
    ],
    ids=["postgres-refused", "sqlite-unopenable"],
)
async def test_readiness_says_503_without_leaking(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(make_settings(url.format(missing=tmp_path)))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        live = await client.get("/health")
        ready = await client.get("/health/ready")
    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "reason": "database unreachable"}
    for text in (ready.text, caplog.text):
        assert "hunter2" not in text
        assert "127.0.0.1:1" not in text
        assert str(tmp_path) not in text
