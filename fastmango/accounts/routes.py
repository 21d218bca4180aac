"""Account pages: log in and out, register, reset a forgotten password, the account page."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fastmango.accounts.auth import (
    CurrentUser,
    OptionalUser,
    get_optional_user,
    request_token,
)
from fastmango.accounts.deps import AuthServiceDep
from fastmango.accounts.throttle import Throttled
from fastmango.conf import BaseSettings
from fastmango.errors import DomainError, NotAuthenticated, NotFound
from fastmango.web.cookies import SESSION_COOKIE
from fastmango.web.csrf import SESSION_KEY as CSRF_SESSION_KEY
from fastmango.web.deps import DatabaseDep, SettingsDep, TemplatesDep
from fastmango.web.flash import flash

# HTML for browsers: kept out of the API schema, which documents /api/v1.
router = APIRouter(
    tags=["accounts"], dependencies=[Depends(get_optional_user)], include_in_schema=False
)
Text = Annotated[str, Form(max_length=1000)]
TOO_MANY_FAILURES = "Too many failed attempts. Wait a while and try again."


def safe_next(target: str | None, default: str = "/") -> str:
    """Follow only same-site paths: not `//evil.example`, `https://...` or `/\\evil`."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else default


def set_session_cookie(response: Response, token: str, settings: BaseSettings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_lifetime_seconds,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )


def render(
    templates: Any, request: Request, name: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    response: HTMLResponse = templates.TemplateResponse(request, name, context, status_code=status)
    return response


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/login", name="login")
async def read_login(
    request: Request, templates: TemplatesDep, user: OptionalUser, next: str | None = None
) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(templates, request, "accounts/login.html", {"next": safe_next(next), "email": ""})


@router.post("/login")
async def create_login(
    request: Request,
    templates: TemplatesDep,
    settings: SettingsDep,
    service: AuthServiceDep,
    email: Text,
    password: Text,
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    context: dict[str, Any] = {"next": safe_next(next), "email": email}
    try:
        user, token = await service.login(email, password, client_ip(request), request)
    except Throttled as exc:
        context["error"] = TOO_MANY_FAILURES
        refused = render(templates, request, "accounts/login.html", context, 429)
        refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    except NotAuthenticated as exc:
        context["error"] = exc.detail
        return render(templates, request, "accounts/login.html", context, 400)
    # A new CSRF secret with the new session: a token seen before login is useless after.
    request.session.pop(CSRF_SESSION_KEY, None)
    flash(request, "success", f"Welcome back, {user.full_name or user.email}.")
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, token, settings)
    return response


@router.post("/logout", name="logout")
async def create_logout(request: Request, user: OptionalUser, service: AuthServiceDep) -> Response:
    token, kind = request_token(request)
    if user is not None and token is not None and kind == "cookie":
        await service.logout(token, user, request)
    request.session.pop(CSRF_SESSION_KEY, None)
    flash(request, "info", "You are signed out.")
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/register", name="register")
async def read_register(
    request: Request, templates: TemplatesDep, settings: SettingsDep
) -> Response:
    if not settings.registration_enabled:
        raise NotFound("Registration is closed.")
    return render(templates, request, "accounts/register.html", {"email": "", "full_name": ""})


@router.post("/register")
async def create_register(
    request: Request,
    templates: TemplatesDep,
    settings: SettingsDep,
    service: AuthServiceDep,
    email: Text,
    password: Text,
    password2: Text,
    full_name: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    if not settings.registration_enabled:
        raise NotFound("Registration is closed.")
    context: dict[str, Any] = {"email": email, "full_name": full_name}
    try:
        if password != password2:
            raise DomainError("The two passwords differ.")
        await service.register(email, password, full_name)
        _user, token = await service.login(email, password, client_ip(request), request)
    except (DomainError, Throttled) as exc:
        context["error"] = getattr(exc, "detail", str(exc))
        status = getattr(exc, "status_code", 429)
        return render(templates, request, "accounts/register.html", context, status)
    request.session.pop(CSRF_SESSION_KEY, None)
    flash(request, "success", "Welcome! Your account is ready.")
    response = RedirectResponse("/account", status_code=303)
    set_session_cookie(response, token, settings)
    return response


@router.get("/password/forgot", name="password_forgot")
async def read_password_forgot(request: Request, templates: TemplatesDep) -> Response:
    return render(templates, request, "accounts/forgot.html", {})


@router.post("/password/forgot")
async def create_password_forgot(
    request: Request,
    service: AuthServiceDep,
    database: DatabaseDep,
    tasks: BackgroundTasks,
    email: Text,
) -> Response:
    # The mail goes out after the response, so no answer waits on an account's work.
    service.request_reset(email, str(request.url_for("password_reset")), database, tasks)
    # The same answer whether or not the address has an account.
    flash(request, "info", "If that address has an account, a reset link is on its way.")
    return RedirectResponse(request.url_for("login").path, status_code=303)


@router.get("/password/reset", name="password_reset")
async def read_password_reset(
    request: Request, templates: TemplatesDep, service: AuthServiceDep, token: str = ""
) -> Response:
    await service.check_reset_token(token[:2000])
    return render(templates, request, "accounts/reset.html", {"token": token})


@router.post("/password/reset")
async def create_password_reset(
    request: Request,
    templates: TemplatesDep,
    service: AuthServiceDep,
    token: Annotated[str, Form(max_length=2000)],
    password: Text,
    password2: Text,
) -> Response:
    try:
        if password != password2:
            raise DomainError("The two passwords differ.")
        await service.reset_password(token, password)
    except DomainError as exc:
        context = {"token": token, "error": exc.detail}
        return render(templates, request, "accounts/reset.html", context, exc.status_code)
    flash(request, "success", "Your password is changed. Sign in with it.")
    response = RedirectResponse(request.url_for("login").path, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account", name="account")
async def read_account(request: Request, templates: TemplatesDep, user: CurrentUser) -> Response:
    return render(templates, request, "accounts/account.html", {"account": user})


@router.post("/account")
async def update_account(
    request: Request,
    user: CurrentUser,
    full_name: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    user.full_name = full_name.strip()
    await user.save()
    flash(request, "success", "Your profile is saved.")
    return RedirectResponse("/account", status_code=303)


@router.post("/account/password", name="account_password")
async def update_account_password(
    request: Request,
    templates: TemplatesDep,
    settings: SettingsDep,
    service: AuthServiceDep,
    user: CurrentUser,
    current_password: Text,
    password: Text,
    password2: Text,
) -> Response:
    context: dict[str, Any] = {"account": user}
    try:
        if password != password2:
            raise DomainError("The two new passwords differ.")
        _user, token = await service.change_password(
            user, current_password, password, client_ip(request)
        )
    except DomainError as exc:
        context["password_error"] = exc.detail
        return render(templates, request, "accounts/account.html", context, exc.status_code)
    except Throttled as exc:
        context["password_error"] = TOO_MANY_FAILURES
        refused = render(templates, request, "accounts/account.html", context, 429)
        refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    flash(request, "success", "Your password is changed. Your other sessions are signed out.")
    response = RedirectResponse("/account", status_code=303)
    # Every session of the user was revoked, this one included: it goes on with a new one.
    set_session_cookie(response, token, settings)
    return response
