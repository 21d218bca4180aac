"""SQLAdmin at /admin, on the site's own accounts, sessions, permissions and CSRF checks.

The admin is mounted inside the app, so the app's middleware wraps it: the signed
session (flash messages), CSRFMiddleware (every unsafe request needs the token) and
DBSessionMiddleware (a session scope per request). There is no admin login: the
site's session cookie is the admin session, and signing out is the site's logout.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi_users_db_sqlalchemy import SQLAlchemyUserDatabase
from sqladmin import Admin
from sqladmin.authentication import AuthenticationBackend, login_required
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from fastmango.accounts.auth import UserManager, get_strategy, request_token
from fastmango.accounts.models import User
from fastmango.admin import unique
from fastmango.admin.files import stored_file
from fastmango.admin.labels import label_for, model_classes
from fastmango.admin.options import registry
from fastmango.admin.permissions import SitePermissions
from fastmango.conf import BaseSettings
from fastmango.db import Database
from fastmango.orm import current_session
from fastmango.web import handlers

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
NOT_STAFF = "Your account has no access to the admin: it is for staff members only."


def login_redirect(request: Request) -> Response:
    """Anonymous: browsers go to the site's login page and come back here afterwards."""
    if request.method not in {"GET", "HEAD"}:
        raise HTTPException(401, "Sign in to continue.")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


async def session_user(request: Request) -> User | None:
    """The active user the site's session cookie names (bearer API tokens do not count)."""
    token, kind = request_token(request)
    if token is None or kind != "cookie":
        return None
    settings: BaseSettings = request.app.state.settings
    manager = UserManager(SQLAlchemyUserDatabase(current_session(), User), settings)
    user = await (await get_strategy(request)).read_token(token, manager)
    return user if user is not None and user.is_active else None


class SiteAuthentication(AuthenticationBackend):
    """sqladmin's sign-in check, answered from the site session (see the module doc).

    Its `login`/`logout` are never called: SiteAdmin hands both pages to the site.
    """

    def __init__(self) -> None:
        # Not super().__init__: it would add a second SessionMiddleware, with its own
        # cookie, in front of the admin, hiding the site session from it.
        self.middlewares = []

    async def authenticate(self, request: Request) -> Response | bool:
        user = await session_user(request)
        if user is None:
            return login_redirect(request)
        if not (user.is_staff or user.is_superuser):
            raise HTTPException(403, NOT_STAFF)
        request.state.user = user  # where the site's templates and dependencies look too
        return True

    async def get_user_id(self, request: Request) -> int | None:
        user: User | None = getattr(request.state, "user", None)
        return user.id if user is not None else None


class SiteAdmin(Admin):
    """sqladmin's Admin with its login and logout pages handed over to the site's."""

    async def login(self, request: Request) -> Response:
        return RedirectResponse(
            f"/login?{urlencode({'next': self.base_url + '/'})}", status_code=303
        )

    async def logout(self, request: Request) -> Response:
        # A GET must not sign anybody out (a link on another site could): this page
        # posts to the site's /logout, which revokes the session token.
        return await self.templates.TemplateResponse(request, "sqladmin/logout.html")

    # sqladmin's versions read the column's value as a path on disk (see admin/files.py).
    @login_required
    async def file_download(self, request: Request) -> Response:
        return await stored_file(await self._file_access(request), request)

    @login_required
    async def file_preview(self, request: Request) -> Response:
        return await stored_file(await self._file_access(request), request)


def mount(app: FastAPI, settings: BaseSettings, database: Database) -> SiteAdmin:
    """Mount the admin at /admin with every registered view, on the app's one engine."""
    # The admin's own scripts (CSRF header, flash toasts); files, since the CSP allows
    # no inline script.
    app.mount("/admin-static", StaticFiles(directory=STATIC_DIR), name="admin_site_static")
    site = SiteAdmin(
        app,
        # The app's engine; a factory of its own because sqladmin reconfigures the
        # one it is given (autoflush off), which the app's ORM relies on.
        session_maker=async_sessionmaker(database.engine, expire_on_commit=False),
        base_url="/admin",
        title=f"{settings.site_name} admin",
        # Our versions of some of sqladmin's pages (the site's CSRF token, flash messages).
        templates_dir=str(TEMPLATES_DIR),
        authentication_backend=SiteAuthentication(),
        authorization_backend=SitePermissions(),
        debug=settings.debug,
    )
    # Inside the mount `request.app` is sqladmin's Starlette app: share the app's
    # state (settings, redis, templates) so auth.get_strategy and friends work there.
    site.admin.state = app.state
    # Errors get the site's page (or JSON when asked for), as everywhere else; with the
    # database away that is the site's 503 too.
    site.admin.add_exception_handler(HTTPException, handlers.http_error)
    handlers.install_database_errors(site.admin)
    # A refused duplicate is a form error, not a fault: no traceback (admin/unique.py).
    logging.getLogger("sqladmin.application").addFilter(unique.QUIET)
    # sqladmin formats a related row by its exact class: every table, named by str().
    labels = dict.fromkeys(model_classes(), label_for)
    for view in registry.values():
        # A subclass per app: sqladmin stores the admin, engine and templates on the
        # view class, and tests build many apps.
        metaclass: Any = type(view)
        formatters = {
            "column_type_formatters": view.column_type_formatters | labels,
            "column_type_formatters_detail": view.column_type_formatters_detail | labels,
        }
        site.add_view(metaclass(view.__name__, (view,), formatters))
    return site
