"""Refuse unknown Host headers (400) and send plain HTTP to HTTPS, as Django's
ALLOWED_HOSTS and SECURE_SSL_REDIRECT do.

Health probes are exempt from both: platforms call them on the machine's own address
over plain HTTP (Fly.io) or with a Host of their own (Railway), and they reveal nothing.
"""

from __future__ import annotations

from starlette.datastructures import URL, Headers
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

EXEMPT_PATHS = ("/health",)


def _exempt(scope: Scope) -> bool:
    return scope["type"] != "http" or str(scope["path"]).startswith(EXEMPT_PATHS)


class HostCheckMiddleware:
    """400 unless the Host is in ALLOWED_HOSTS: `.example.com` (Django) or `*.example.com`
    (Starlette) matches the domain and its subdomains, `*` anything."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: list[str]) -> None:
        self.app = app
        hosts = [
            h.lower().removeprefix("*") if h.startswith("*.") else h.lower() for h in allowed_hosts
        ]
        self.any = "*" in hosts
        self.exact = {h for h in hosts if not h.startswith(".")}
        self.suffixes = tuple(h for h in hosts if h.startswith("."))

    def allowed(self, host: str) -> bool:
        # IPv6 literals come in brackets, with or without a port.
        name = host.lower().rsplit(":", 1)[0] if not host.endswith("]") else host.lower()
        return (
            self.any
            or name in self.exact
            or name.endswith(self.suffixes)
            or (bool(self.suffixes) and "." + name in self.suffixes)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _exempt(scope) or self.allowed(Headers(scope=scope).get("host", "")):
            await self.app(scope, receive, send)
            return
        await PlainTextResponse("Invalid host header", status_code=400)(scope, receive, send)


class HTTPSRedirectMiddleware:
    """301 from http:// to https:// (the scheme as the trusted proxy reports it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _exempt(scope) or scope.get("scheme") != "http":
            await self.app(scope, receive, send)
            return
        url = URL(scope=scope)
        host = url.hostname or ""
        # The default port is dropped (http's 80 is not https' 443); an IPv6 literal is bracketed.
        netloc = (f"[{host}]" if ":" in host else host) if url.port in (80, None) else url.netloc
        target = url.replace(scheme="https", netloc=netloc)
        await RedirectResponse(str(target), status_code=301)(scope, receive, send)
