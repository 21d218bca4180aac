"""`dbshell`: the database's own client on the configured database (sqlite3 or psql).

The password goes to psql in its environment (PGPASSWORD), never on its command
line (which `ps` shows to every user) nor in our output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Annotated

import typer
from sqlalchemy.engine import URL, make_url

from fastmango.conf import BaseSettings
from fastmango.management.common import fail, load_settings

INSTALL_HINTS = {
    "sqlite3": "install it with `sudo apt-get install sqlite3` (Debian/Ubuntu) "
    "or `brew install sqlite` (macOS)",
    "psql": "install it with `sudo apt-get install postgresql-client` (Debian/Ubuntu) "
    "or `brew install libpq` (macOS)",
}


def client_command(url: URL, extra: list[str]) -> tuple[list[str], dict[str, str]]:
    """The client's arguments and the environment values it needs, for `url`."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return ["sqlite3", url.database or ":memory:", *extra], {}
    if backend != "postgresql":
        fail(f"dbshell does not know the client for {backend!r} databases.")
    args = ["psql"]
    query = {key: value for key, value in url.query.items() if isinstance(value, str)}
    host = url.host or query.get("host")
    if host:
        args += ["--host", host]
    if url.port or query.get("port"):
        args += ["--port", str(url.port or query["port"])]
    if url.username:
        args += ["--username", url.username]
    if url.database:
        args += ["--dbname", url.database]
    env = {"PGPASSWORD": url.password} if url.password else {}
    if "sslmode" in query:
        env["PGSSLMODE"] = query["sslmode"]
    return [*args, *extra], env


def run_client(settings: BaseSettings, extra: list[str]) -> int:
    args, env = client_command(make_url(settings.database_url), extra)
    program = shutil.which(args[0])
    if program is None:
        fail(f"The `{args[0]}` program is not installed or not on PATH: {INSTALL_HINTS[args[0]]}.")
    try:
        return subprocess.run([program, *args[1:]], env=os.environ | env, check=False).returncode  # noqa: S603 (the client we named)
    except KeyboardInterrupt:
        return 130


def dbshell(
    parameters: Annotated[
        list[str] | None,
        typer.Argument(help="Passed to the client after `--`, e.g. -- -c 'SELECT 1'."),
    ] = None,
) -> None:
    """Open the database's own client (sqlite3 or psql) on the configured database."""
    code = run_client(load_settings(), parameters or [])
    if code:
        raise typer.Exit(code=code)
