"""`runserver`: uvicorn serving `main:app` (which migrates SQLite at start-up in development)."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from management.common import info, load_settings


def runserver(
    host: Annotated[str, typer.Option(help="The interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="The port to listen on.")] = 8000,
    reload: Annotated[
        bool, typer.Option("--reload", help="Restart when a source file changes.")
    ] = False,
) -> None:
    """Run the development web server."""
    settings = load_settings()  # fail here, with a clear message, on bad settings
    shown = f"[{host}]" if ":" in host else host
    info(f"Starting {settings.environment} server at http://{shown}:{port}/")
    info("Quit the server with CONTROL-C.")
    uvicorn.run("main:app", host=host, port=port, reload=reload)
