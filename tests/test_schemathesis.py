"""Schemathesis over the whole OpenAPI schema, against a real uvicorn server on 127.0.0.1.

Every operation, with generated valid and invalid input and every check
(`--checks all`), as a superuser so the protected paths are explored too: no
server error, no response that breaks the schema, no valid input refused and no
invalid input accepted. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fake_openai import FAKE_API_KEY, FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
ST = Path(sys.executable).parent / "st"
ADMIN = {"username": "admin@example.com", "password": "fastmango-demo-password"}
TIME_BUDGET_SECONDS = 45


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def server(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, fake_openai: FakeOpenAI
) -> Iterator[str]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"
    else:
        url = request.getfixturevalue("postgres").create("fastmango_st")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env |= {
        "DATABASE_URL": url,
        "ENVIRONMENT": "development",
        "MIGRATE_ON_STARTUP": "false",
        "EMAIL_BACKEND": "memory",
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": "schemathesis-key-q7w8e9r0t1y2u3i4o5p6a7s8d9f0g1h2j3k4l5",
        # Semantic search answers (not its 503 for "off"): embeddings from the fake server.
        "EMBEDDING_PROVIDER": "openai",
        "EMBEDDING_BASE_URL": fake_openai.base_url,
        "EMBEDDING_API_KEY": FAKE_API_KEY,
        "EMBEDDING_MODEL": "fake-bag-of-words",
    }
    for command in (["migrate"], ["seed", "--products", "60", "--registrants", "5"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port), "--no-access-log"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a ceiling for a busy machine
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the app did not start:\n" + log.read_text())
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
    # A fault the responses hid (a traceback in the server log) fails the run too.
    assert "Traceback" not in log.read_text(), log.read_text()[-4000:]


def test_api_honours_its_schema(server: str, tmp_path: Path) -> None:
    token = httpx.post(f"{server}/api/v1/auth/token", data=ADMIN).json()["access_token"]
    result = subprocess.run(
        [
            str(ST),
            "run",
            f"{server}/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {token}",
            # Logging out would revoke the token every other case uses.
            "--exclude-path",
            "/api/v1/auth/logout",
            "--max-examples",
            "25",
            "--max-time",
            str(TIME_BUDGET_SECONDS),
        ],
        capture_output=True,
        text=True,
        timeout=TIME_BUDGET_SECONDS * 4,
        cwd=tmp_path,  # schemathesis keeps a cache folder in its working directory
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Tested:" in result.stdout
