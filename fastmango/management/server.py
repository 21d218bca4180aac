"""`runserver`: uvicorn serving `main:app`; `--prod` for the production server.

Both log through logging_setup (uvicorn's own logging config is not used): the access
lines come from request_log.py, with the request id and without query strings.
"""

from __future__ import annotations

import logging
from typing import Annotated, TypedDict

import typer
import uvicorn

from fastmango.conf import BaseSettings
from fastmango.logging_setup import configure_logging
from fastmango.management.common import fail, info, load_startup_settings

logger = logging.getLogger("fastmango.server")
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (a container's port is published by the platform)


class ServerOptions(TypedDict):
    host: str
    port: int
    workers: int
    proxy_headers: bool
    forwarded_allow_ips: list[str]
    timeout_graceful_shutdown: int
    reload: bool
    access_log: bool
    log_config: None
    server_header: bool


def production_options(settings: BaseSettings, host: str | None, port: int | None) -> ServerOptions:
    """uvicorn's options for production: workers, trusted proxies, graceful stop, no reload."""
    return {
        "host": host or ALL_INTERFACES,
        "port": port or settings.port,
        "workers": settings.web_concurrency,
        # X-Forwarded-For/-Proto set the client address and the scheme (HTTPS redirect,
        # HSTS, secure cookies) only when they come from these addresses.
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "timeout_graceful_shutdown": settings.graceful_shutdown_seconds,
        "reload": False,
        "access_log": False,
        "log_config": None,
        "server_header": False,
    }


def runserver(
    host: Annotated[
        str | None,
        typer.Option(help="The interface to listen on [default: 127.0.0.1; 0.0.0.0 with --prod]."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="The port to listen on [default: 8000; PORT with --prod]."
        ),
    ] = None,
    reload: Annotated[
        bool, typer.Option("--reload", help="Restart when a source file changes.")
    ] = False,
    prod: Annotated[
        bool,
        typer.Option(
            "--prod",
            help="Production server: WEB_CONCURRENCY workers, proxy headers from "
            "FORWARDED_ALLOW_IPS, graceful shutdown, no reload.",
        ),
    ] = False,
) -> None:
    """Run the web server (the development server unless --prod)."""
    # Refused here, with the app's own message, not by a traceback from uvicorn's import.
    settings = load_startup_settings()
    configure_logging(settings)
    if prod:
        if reload:
            fail("--reload is for development; the production server never reloads.")
        options = production_options(settings, host, port)
        logger.info(
            "Starting the production server on %s:%s with %s worker(s)",
            options["host"],
            options["port"],
            options["workers"],
        )
        uvicorn.run("main:app", **options)
        return
    host = host or "127.0.0.1"
    port = port or 8000
    shown = f"[{host}]" if ":" in host else host
    info(f"Starting {settings.environment} server at http://{shown}:{port}/")
    info("Quit the server with CONTROL-C.")
    uvicorn.run("main:app", host=host, port=port, reload=reload, access_log=False, log_config=None)
