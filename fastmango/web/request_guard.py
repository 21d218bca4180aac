"""What a request may claim about itself: its client address and scheme (only through
trusted proxies), its Host (ALLOWED_HOSTS, 400 otherwise), and plain HTTP sent to HTTPS,
as Django's ALLOWED_HOSTS and SECURE_SSL_REDIRECT do.

Health probes are exempt from the host check and the redirect: platforms call them on the
machine's own address over plain HTTP (Fly.io) or with a Host of their own (Railway), and
they reveal nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.datastructures import URL, Headers
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

EXEMPT_PATHS = ("/health",)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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


def _ip(value: str) -> IPAddress | None:
    """The address in a forwarded value: `1.2.3.4`, `1.2.3.4:567`, `[::1]:80`; else None."""
    value = value.strip()
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


class TrustedProxies:
    """FORWARDED_ALLOW_IPS: addresses and networks, or `*` for any peer."""

    def __init__(self, entries: Iterable[str]) -> None:
        entries = [entry.strip() for entry in entries if entry.strip()]
        self.any = "*" in entries
        self.networks: list[IPNetwork] = []
        for entry in entries:
            if entry != "*":
                self.networks.append(ipaddress.ip_network(entry, strict=False))

    def __contains__(self, address: IPAddress | None) -> bool:
        if address is None:
            return False
        return self.any or any(address in network for network in self.networks)


class ProxyHeadersMiddleware:
    """The client's address and scheme as the trusted proxies saw them.

    Believed only from a peer in FORWARDED_ALLOW_IPS. The scheme comes from
    X-Forwarded-Proto; the client from CLIENT_IP_HEADER when set (a header the platform's
    proxy overwrites), else from X-Forwarded-For read from the right: each proxy appends
    the address it saw, so the first address that is not a trusted proxy is the client,
    and anything to its left is what the client chose to write. With `*` only the peer is
    known to be a proxy, so only the address it appended (the right-most) is believed.
    uvicorn's own middleware takes the *left-most* with `*`: a fresh client address per
    request for anyone who writes one, which per-IP throttling cannot count.
    """

    def __init__(
        self, app: ASGIApp, *, trusted: Iterable[str], client_header: str | None = None
    ) -> None:
        self.app = app
        self.trusted = TrustedProxies(trusted)
        self.client_header = client_header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and _ip(client[0]) in self.trusted:
            headers = Headers(scope=scope)
            scheme = headers.getlist("x-forwarded-proto")[-1:]
            proto = scheme[0].rsplit(",", 1)[-1].strip().lower() if scheme else ""
            if proto in ("http", "https"):
                scope["scheme"] = (
                    proto.replace("http", "ws") if scope["type"] == "websocket" else proto
                )
            address = self._client(headers)
            if address is not None:
                scope["client"] = (str(address), 0)
        await self.app(scope, receive, send)

    def _client(self, headers: Headers) -> IPAddress | None:
        if self.client_header is not None:
            values = headers.getlist(self.client_header)
            if len(values) == 1 and (address := _ip(values[0])) is not None:
                return address
        hops = [hop for value in headers.getlist("x-forwarded-for") for hop in value.split(",")]
        for hop in reversed(hops):
            address = _ip(hop)
            if address is None:
                return None  # garbage where a proxy should have written: believe nothing
            if self.trusted.any or address not in self.trusted:
                return address
        # Every hop is a trusted proxy: the client is one of them, the first.
        return _ip(hops[0]) if hops else None
