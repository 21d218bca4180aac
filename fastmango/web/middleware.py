"""The middleware stack, outermost first: proxy headers, request log, security headers,
error page, hosts, HTTPS, CORS, signed session, body limits, CSRF, database scope."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import NoReturn

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastmango.conf import BaseSettings
from fastmango.db import Database, DBSessionMiddleware
from fastmango.web.csrf import CSRFMiddleware
from fastmango.web.handlers import ServerErrorPageMiddleware, error_response
from fastmango.web.request_guard import (
    HostCheckMiddleware,
    HTTPSRedirectMiddleware,
    ProxyHeadersMiddleware,
)
from fastmango.web.request_log import RequestLogMiddleware
from fastmango.web.security_headers import SecurityHeadersMiddleware

# Room for the largest upload plus the rest of a form, for reading the CSRF field.
FORM_OVERHEAD = 1024 * 1024


class BodyLimitMiddleware:
    """Refuse a body over the limit (413) or one that arrives too slowly (408) before any
    handler buffers it; the connection is closed after the refusal.

    The time counted is the time spent waiting for the client's bytes, in all: a client
    sending one byte now and then (or less than its Content-Length) cannot hold the
    request open. Once the body is complete, waiting (for a disconnect) is unlimited.
    """

    def __init__(self, app: ASGIApp, *, max_body: int, read_timeout: float = 60.0) -> None:
        self.app = app
        self.max_body = max_body
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            await _refuse(scope, send, 413, TOO_LARGE)
            return
        received = 0
        waited = 0.0
        complete = False
        started = False
        refused = False

        async def refuse(status: int, detail: str) -> NoReturn:
            nonlocal refused
            if not started:
                refused = True
                await _refuse(scope, send, status, detail)
            raise _Refused

        async def limited_receive() -> Message:
            nonlocal received, waited, complete
            if complete:
                return await receive()
            began = time.monotonic()
            try:
                async with asyncio.timeout(self.read_timeout - waited):
                    message = await receive()
            except TimeoutError:
                await refuse(408, TOO_SLOW)
            waited += time.monotonic() - began
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    await refuse(413, TOO_LARGE)
                complete = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the client has its answer; the app's own comes too late
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_Refused):  # answered by refuse() already
            await self.app(scope, limited_receive, tracking_send)


TOO_LARGE = "The request body is too large."
TOO_SLOW = "The request body did not arrive in time."


class _Refused(Exception):
    pass


async def _refuse(scope: Scope, send: Send, status: int, detail: str) -> None:
    scope.setdefault("router", scope["app"].router)
    response = error_response(Request(scope), status, detail)
    # The rest of the body is not read: the connection cannot serve another request.
    response.headers["Connection"] = "close"
    await response(scope, _disconnected, send)


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}


def install(app: FastAPI, settings: BaseSettings, database: Database) -> None:
    # add_middleware puts each new one outside the previous: add innermost first.
    app.add_middleware(DBSessionMiddleware, database=database)
    app.add_middleware(
        CSRFMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        max_body=settings.max_upload_size + FORM_OVERHEAD,
        on_error=lambda request, status, detail: error_response(
            request, status, detail, "csrf_failed" if status == 403 else None
        ),
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_body=settings.max_upload_size + FORM_OVERHEAD,
        read_timeout=settings.request_body_timeout,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        session_cookie="fastmango_state",
        same_site="lax",
        https_only=settings.cookie_secure,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    if settings.secure_ssl_redirect:
        app.add_middleware(HTTPSRedirectMiddleware)
    if settings.is_production:
        app.add_middleware(HostCheckMiddleware, allowed_hosts=settings.allowed_hosts)
    # Outermost: every response, the refusals above and the 500 page included, gets
    # the security headers and the request id, and is logged.
    # In DEBUG, Starlette's traceback page for errors; the 503 for a lost database always.
    app.add_middleware(ServerErrorPageMiddleware, debug=settings.debug)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    app.add_middleware(RequestLogMiddleware)
    # Before everything else (the log, the HTTPS redirect, the throttles): the client's
    # address and scheme as the trusted proxies report them.
    app.add_middleware(
        ProxyHeadersMiddleware,
        trusted=settings.forwarded_allow_ips,
        client_header=settings.client_ip_header,
    )
