"""The middleware stack, outermost first: request log, security headers, 500 page, hosts,
HTTPS, CORS, signed session, body limit, CSRF, database scope."""

from __future__ import annotations

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
from fastmango.web.request_guard import HostCheckMiddleware, HTTPSRedirectMiddleware
from fastmango.web.request_log import RequestLogMiddleware
from fastmango.web.security_headers import SecurityHeadersMiddleware

# Room for the largest upload plus the rest of a form, for reading the CSRF field.
FORM_OVERHEAD = 1024 * 1024


class BodyLimitMiddleware:
    """Refuse bodies over the limit with 413 before any handler buffers them."""

    def __init__(self, app: ASGIApp, *, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(scope, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._too_large(scope, send)

    @staticmethod
    async def _too_large(scope: Scope, send: Send) -> None:
        scope.setdefault("router", scope["app"].router)
        response = error_response(Request(scope), 413, "The request body is too large.")
        await response(scope, _disconnected, send)


class _TooLarge(Exception):
    pass


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
    app.add_middleware(BodyLimitMiddleware, max_body=settings.max_upload_size + FORM_OVERHEAD)
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
