"""`runserver`: uvicorn serving `main:app`; `--prod` for the production server.

Both log through logging_setup (uvicorn's own logging config is not used): the access
lines come from request_log.py, with the request id and without query strings. Both
close connections whose request line and headers are too slow to arrive; the app itself
refuses slow bodies (middleware.BodyLimitMiddleware) and reads proxy headers
(request_guard.ProxyHeadersMiddleware), so uvicorn's proxy headers are off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any, TypedDict

import typer
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from fastmango.conf import BaseSettings, get_settings
from fastmango.logging_setup import configure_logging
from fastmango.management.common import fail, info, load_startup_settings

logger = logging.getLogger("fastmango.server")
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (a container's port is published by the platform)


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (its default) with a deadline for each request's line
    and headers, from the connection's first byte or the request's: then 408 and close.

    uvicorn only times out idle keep-alive connections: a client that connects and sends
    nothing, or half a header, would hold its connection (and a socket) forever. The body
    cannot be timed here (the app may be slow to read it): the app refuses slow bodies.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn builds one per connection, in each worker, from the class alone: the
        # setting comes from the process's settings (cached), as everything else does.
        self.header_timeout = get_settings().request_header_timeout
        self._deadline: asyncio.TimerHandle | None = None
        self._before: object = None  # the request cycle in place when the deadline started
        self._partial = False  # bytes of the timed request have arrived

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start()

    def data_received(self, data: bytes) -> None:
        # A new request begins once the last one's body is complete (or on a new connection).
        if self._deadline is None and (self.cycle is None or not self.cycle.more_body):
            self._start()
        self._partial = True
        super().data_received(data)
        # Its headers are in (a new cycle runs it), or the connection became a WebSocket.
        if self.cycle is not self._before or self.transport.get_protocol() is not self:
            self._stop()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        super().connection_lost(exc)

    def _start(self) -> None:
        self._before = self.cycle
        self._partial = False
        self._deadline = self.loop.call_later(self.header_timeout, self._expired)

    def _stop(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._partial:  # a client that said nothing gets nothing back
            logger.info("Closed a connection: request headers not received in time.")
            body = b"Request headers not received in time."
            self.transport.write(
                STATUS_LINE[408]
                + b"".join(k + b": " + v + b"\r\n" for k, v in self.server_state.default_headers)
                + b"content-type: text/plain; charset=utf-8\r\n"
                + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
                + body
            )
        self.transport.close()


class ServerOptions(TypedDict):
    host: str
    port: int
    workers: int
    http: type[HeaderDeadlineProtocol]
    proxy_headers: bool
    timeout_graceful_shutdown: int
    reload: bool
    access_log: bool
    log_config: None
    server_header: bool


def production_options(settings: BaseSettings, host: str | None, port: int | None) -> ServerOptions:
    """uvicorn's options for production: workers, slow-client deadline, graceful stop."""
    return {
        "host": host or ALL_INTERFACES,
        "port": port or settings.port,
        "workers": settings.web_concurrency,
        "http": HeaderDeadlineProtocol,  # REQUEST_HEADER_TIMEOUT
        # The app believes X-Forwarded-For/-Proto from FORWARDED_ALLOW_IPS only, and right
        # to left (request_guard.py); uvicorn's would take the client's own first hop.
        "proxy_headers": False,
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
    uvicorn.run(
        "main:app",
        host=host,
        port=port,
        reload=reload,
        http=HeaderDeadlineProtocol,
        proxy_headers=False,
        access_log=False,
        log_config=None,
    )
