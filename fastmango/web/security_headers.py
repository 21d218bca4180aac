"""Security headers on every response: a strict Content-Security-Policy and friends, and HSTS.

The site's pages load only our own files (Alpine's CSP build, htmx without eval, no
inline scripts or styles), so the policy allows 'self' and nothing inline. So do
`/docs` (Swagger UI started by static/js/swagger-init.js) and `/admin` (sqladmin's one
inline script, the flash toasts, replaced by fastmango/admin/static/toasts.js). One area needs
more, and only under its own path:

- `/redoc`: ReDoc writes its styles into <style> elements (styled-components) and runs its
  search in a blob: worker. The page hands a per-request nonce to ReDoc's style elements
  (static/js/redoc-init.js), which the policy names. Its bundle also shows a logo from
  its CDN: the policy refuses it, so nothing loads from another host (ReDoc hides the
  image when it fails).

Policies are built once, at start-up; a nonce policy is filled in per request.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastmango.conf import BaseSettings

NONCE = "{nonce}"
Policy = dict[str, tuple[str, ...]]

BASE_POLICY: Policy = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "connect-src": ("'self'",),
    "frame-ancestors": ("'none'",),
    "base-uri": ("'self'",),
    "form-action": ("'self'",),
    "object-src": ("'none'",),
}
# Path prefix -> directives replaced for that area (see the module docstring).
AREA_POLICIES: dict[str, Policy] = {
    "/redoc": {
        "style-src": ("'self'", f"'nonce-{NONCE}'"),
        "worker-src": ("blob:",),
    },
}
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)


def media_origin(settings: BaseSettings) -> str | None:
    """Where uploaded images come from when they are not ours: the S3 public URL's origin.

    Follows storage.S3Storage: S3_PUBLIC_URL, else S3_ENDPOINT_URL, else the AWS domain.
    """
    if settings.storage_backend != "s3":
        return None
    url = (
        settings.s3_public_url
        or settings.s3_endpoint_url
        or f"https://{settings.s3_bucket}.s3.{settings.s3_region}.amazonaws.com"
    )
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def build_policy(settings: BaseSettings, area: Policy | None = None) -> str:
    policy = BASE_POLICY | (area or {})
    origin = media_origin(settings)
    if origin:
        policy["img-src"] = (*policy["img-src"], origin)
    text = "; ".join(f"{name} {' '.join(values)}" for name, values in policy.items())
    if settings.secure_ssl_redirect:
        text += "; upgrade-insecure-requests"
    return text


def hsts_value(settings: BaseSettings) -> str | None:
    if settings.secure_hsts_seconds <= 0:
        return None
    value = f"max-age={settings.secure_hsts_seconds}"
    if settings.secure_hsts_include_subdomains:
        value += "; includeSubDomains"
    if settings.secure_hsts_preload:
        value += "; preload"
    return value


class SecurityHeadersMiddleware:
    """Adds the headers to every HTTP response that does not set them itself.

    For a nonce area, `request.state.csp_nonce` holds the nonce the page must use.
    HSTS goes on HTTPS responses only (browsers ignore it over plain HTTP).
    """

    def __init__(self, app: ASGIApp, *, settings: BaseSettings) -> None:
        self.app = app
        common = {
            "x-content-type-options": "nosniff",
            "referrer-policy": "strict-origin-when-cross-origin",
            "x-frame-options": "DENY",
            "permissions-policy": PERMISSIONS_POLICY,
            "cross-origin-opener-policy": "same-origin",
        }
        self.common = [(name.encode(), value.encode()) for name, value in common.items()]
        hsts = hsts_value(settings)
        self.hsts = (b"strict-transport-security", hsts.encode()) if hsts else None
        self.policy = build_policy(settings)
        # Longest prefix first, so a nested area would win over its parent.
        self.areas = sorted(
            ((prefix, build_policy(settings, area)) for prefix, area in AREA_POLICIES.items()),
            key=lambda item: -len(item[0]),
        )

    def policy_for(self, path: str) -> str:
        for prefix, policy in self.areas:
            if path == prefix or path.startswith(prefix + "/"):
                return policy
        return self.policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policy_for(scope["path"])
        if NONCE in policy:
            nonce = secrets.token_urlsafe(18)
            scope.setdefault("state", {})["csp_nonce"] = nonce
            policy = policy.replace(NONCE, nonce)
        added = [*self.common, (b"content-security-policy", policy.encode())]
        if self.hsts and scope.get("scheme") == "https":
            added.append(self.hsts)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in added if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
