"""Every entry point refuses unsafe or invalid settings the same way: the same short message,
a non-zero exit, no traceback, and no secret in the output. Each runs as a real process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.servers import ROOT, free_port, manage_command, server_env

CEILING = 60  # seconds; a server that started instead of refusing is stopped here

pytestmark = pytest.mark.slow  # a dozen interpreters start

UNSAFE = (
    "Error: Refusing to start with unsafe settings:\n"
    "  - (security.E009) SECRET_KEY is the default, shorter than 50 characters or has fewer "
    "than 5 unique characters.\n"
    '    HINT: Generate one: python -c "import secrets; print(secrets.token_urlsafe(64))"\n'
)
INVALID = (
    "Error: Invalid settings: DATABASE_URL: Value error, DATABASE_URL must be a sqlite or "
    "postgresql URL\n"
)


UVICORN = [sys.executable, "-m", "uvicorn", "main:app", "--port"]
WORKERS = "uvicorn main:app --workers 2"
ENTRY_POINTS = [
    "uvicorn main:app",
    WORKERS,
    "runserver",
    "runserver --reload",
    "runserver --prod",
    "prestart",
]


def command(name: str) -> list[str]:
    port = str(free_port())
    return {
        "uvicorn main:app": [*UVICORN, port],
        WORKERS: [*UVICORN, port, "--workers", "2"],
        "runserver": manage_command("runserver", "--port", port),
        "runserver --reload": manage_command("runserver", "--reload", "--port", port),
        "runserver --prod": manage_command("runserver", "--prod", "--port", port),
        "prestart": manage_command("prestart", "--wait", "0"),
    }[name]


def run(name: str, **env: str) -> subprocess.CompletedProcess[str]:
    # WEB_CONCURRENCY=2: runserver --prod refuses before starting any worker.
    values = {"WEB_CONCURRENCY": "2"} if name == "runserver --prod" else {}
    if name == WORKERS:  # uvicorn's supervisor leaves its socket to the interpreter at exit
        values["PYTHONWARNINGS"] = "error,ignore::ResourceWarning"
    return subprocess.run(
        command(name),
        cwd=ROOT,
        env=server_env(**values | env),
        capture_output=True,
        text=True,
        timeout=CEILING,
    )


def assert_refused(name: str, result: subprocess.CompletedProcess[str], message: str) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    if name == WORKERS:
        # Each worker refuses and exits with uvicorn's "failed to start" code, so the
        # supervisor stops instead of starting it again; the supervisor's own exit code
        # is uvicorn's (0). runserver --prod refuses before any worker: exit 1.
        assert result.stderr.count(message) == 2, result.stderr
        assert "failed to start, stopping the parent process" in result.stderr
        return
    assert result.returncode != 0
    assert result.stderr == message, result.stderr


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_production_refuses_unsafe_settings_everywhere(name: str) -> None:
    result = run(name, ENVIRONMENT="production", SECRET_KEY="secret")
    assert_refused(name, result, UNSAFE)
    assert "=secret" not in result.stdout + result.stderr


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_invalid_settings_are_refused_everywhere(name: str) -> None:
    result = run(name, ENVIRONMENT="test", DATABASE_URL="mysql://app:pw-SECRET@db/app")
    assert_refused(name, result, INVALID)
    assert "pw-SECRET" not in result.stdout + result.stderr
