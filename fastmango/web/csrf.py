"""CSRF protection for everything a browser's cookies authenticate.

A random secret lives in the signed session; pages embed `HMAC(SECRET_KEY, secret)`
as a hidden `csrf_token` field and as the `X-CSRF-Token` header HTMX sends. Every
POST/PUT/PATCH/DELETE must bring it back, except API calls that carry no session
cookie or authenticate with an Authorization header (a cross-site page can send
neither). A refusal is a 403 page or JSON, and the request never reaches a route.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastmango.web.cookies import SESSION_COOKIE

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SESSION_KEY = "csrf_secret"
NO_SESSION_PATHS = ("/api/", "/health", "/static/", "/openapi.json")

ErrorResponder = Callable[[Request, int, str], Response]


def token_for(secret: str, key: str) -> str:
    return hmac.new(key.encode(), secret.encode(), hashlib.sha256).hexdigest()


class CSRFMiddleware:
    """Pure ASGI middleware (must sit inside SessionMiddleware, which provides `session`)."""

    def __init__(
        self, app: ASGIApp, *, secret_key: str, max_body: int, on_error: ErrorResponder
    ) -> None:
        self.app = app
        self.secret_key = secret_key
        self.max_body = max_body
        self.on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = scope.setdefault("session", {})
        # Pages get a secret on first sight; API and probe requests leave the session
        # empty, so they never receive (or pay for) a signed session cookie.
        if SESSION_KEY not in session and not str(scope["path"]).startswith(NO_SESSION_PATHS):
            session[SESSION_KEY] = secrets.token_urlsafe(32)
        secret = session.get(SESSION_KEY)
        expected = token_for(secret, self.secret_key) if secret else ""
        scope.setdefault("state", {})["csrf_token"] = expected
        if scope["method"] in SAFE_METHODS or self._exempt(scope):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        sent = headers.get(HEADER)
        if sent is None:
            body = await self._read_body(receive)
            if body is None:
                await self._refuse(scope, send, 413, "The request body is too large.")
                return
            sent = await self._form_token(scope, headers, body)
            receive = _replay(body, receive)
        if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            await self._refuse(scope, send, 403, "CSRF check failed: reload the page and retry.")
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _exempt(scope: Scope) -> bool:
        # A Bearer header is never sent by a browser on its own (Basic auth is: no exemption).
        scheme = Headers(scope=scope).get("authorization", "").partition(" ")[0]
        if scheme.lower() == "bearer":
            return True
        has_session_cookie = SESSION_COOKIE in Request(scope).cookies
        return str(scope["path"]).startswith("/api/") and not has_session_cookie

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    async def _form_token(scope: Scope, headers: Headers, body: bytes) -> str | None:
        content_type = headers.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(FIELD)
            return values[0] if values else None
        if content_type.startswith("multipart/form-data"):
            request = Request(scope, receive=_replay(body, _empty_receive))
            try:
                form = await request.form()
            except HTTPException:  # a malformed multipart body: no token, so a refusal
                return None
            value = form.get(FIELD)
            await form.close()
            return value if isinstance(value, str) else None
        return None

    async def _refuse(self, scope: Scope, send: Send, status: int, detail: str) -> None:
        # Templates call url_for, which needs the router the app sets later on.
        scope.setdefault("router", scope["app"].router)
        response = self.on_error(Request(scope), status, detail)
        await response(scope, _empty_receive, send)


def _replay(body: bytes, original: Receive) -> Receive:
    """Hand the buffered body to the app once, then listen to the client again."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await original()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _empty_receive() -> Message:
    return {"type": "http.disconnect"}
