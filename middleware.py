"""The middleware stack, outermost first: hosts, CORS, signed session, CSRF, database scope."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from csrf import CSRFMiddleware
from db import Database, DBSessionMiddleware
from handlers import error_response
from settings import Settings

# Room for the largest upload plus the rest of a form, for reading the CSRF field.
FORM_OVERHEAD = 1024 * 1024


def install(app: FastAPI, settings: Settings, database: Database) -> None:
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
    if settings.is_production:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts)
