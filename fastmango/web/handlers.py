"""Turn domain errors and HTTP errors into a page for browsers or JSON for API clients."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastmango.db import DatabaseUnavailable, is_unavailable
from fastmango.errors import DomainError, NotAuthenticated, TooManyRequests

logger = logging.getLogger("fastmango.errors")

_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}
SERVER_ERROR = "Something went wrong on our side."
UNAVAILABLE = "The service is briefly unavailable. Please try again in a moment."
RETRY_AFTER = "5"  # seconds; a database restart or failover is usually over by then


def wants_json(request: Request) -> bool:
    if request.url.path.startswith(("/api/", "/health")):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(
    request: Request,
    status_code: int,
    detail: str,
    code: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    code = code or _CODES.get(status_code, "error")
    if wants_json(request):
        body: dict[str, Any] = {"detail": detail, "code": code}
        if errors:
            body["errors"] = errors
        return JSONResponse(body, status_code=status_code, headers=headers)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status_code": status_code, "detail": detail, "errors": errors or []},
        status_code=status_code,
        headers=headers,
    )


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if isinstance(exc, NotAuthenticated):
        if not wants_json(request) and request.method in {"GET", "HEAD"}:
            # Browsers go to the login page and come back afterwards.
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
        headers = {"WWW-Authenticate": "Bearer"}
        return error_response(request, 401, exc.detail, exc.code, headers=headers)
    retry = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
    return error_response(request, exc.status_code, exc.detail, exc.code, exc.errors, retry)


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405:
        headers = (headers or {}) | {"Allow": allowed_methods(request)}
    return error_response(request, exc.status_code, str(exc.detail), headers=headers)


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    status = 422 if wants_json(request) else 400
    fields = ", ".join(str(e["loc"][-1]) for e in errors if e["loc"]) or "request"
    return error_response(request, status, f"Invalid input: {fields}", "invalid", errors)


def unavailable_response(request: Request, exc: BaseException) -> Response:
    """503 with Retry-After for a database that is away; a warning line, no traceback."""
    # Our own message or the class name: driver messages can name hosts.
    reason = str(exc) if isinstance(exc, DatabaseUnavailable) else type(exc).__name__
    logger.warning("Database unavailable on %s %s: %s", request.method, request.url.path, reason)
    return error_response(request, 503, UNAVAILABLE, headers={"Retry-After": RETRY_AFTER})


async def server_error(request: Request, exc: Exception) -> Response:
    if is_unavailable(exc):
        return unavailable_response(request, exc)
    # Logged with the traceback for the operator; the user sees a plain page.
    logger.error("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, SERVER_ERROR)


async def database_error(request: Request, exc: Exception) -> Response:
    """503 while the database is away (the next request may find it back); else a 500."""
    return await server_error(request, exc)


class ServerErrorPageMiddleware:
    """Answers errors that escape the handlers from inside the middleware stack.

    A database that is away is expected (a restart, a failover): wherever its error is
    raised (a middleware, a dependency, committing or closing the request's session after
    the handler returned) the client gets the 503 page unless an answer already went out,
    and the error stops here, logged as a warning. Any other error gets the 500 page
    (except in DEBUG, which shows Starlette's traceback page) and goes on to Starlette
    (which logs it through `server_error`) and the server; the page is not sent twice.
    Starlette would answer outside every middleware, without the security headers and
    the request id.
    """

    def __init__(self, app: ASGIApp, *, debug: bool = False) -> None:
        self.app = app
        self.debug = debug

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            unavailable = is_unavailable(exc)
            if not started and (unavailable or not self.debug):
                scope.setdefault("router", scope["app"].router)
                request = Request(scope)
                if unavailable:
                    response = unavailable_response(request, exc)
                else:
                    response = error_response(request, 500, SERVER_ERROR)
                await response(scope, receive, send)
            elif unavailable:
                logger.warning(
                    "Database unavailable after answering %s %s: %s",
                    scope["method"],
                    scope["path"],
                    type(exc).__name__,
                )
            if not unavailable:
                raise


def install_database_errors(app: Starlette) -> None:
    """503 for a lost database; also for mounted apps (the admin), which have their own."""
    for kind in (DatabaseUnavailable, TimeoutError, SQLAlchemyTimeoutError, DBAPIError):
        app.add_exception_handler(kind, database_error)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    install_database_errors(app)
    app.add_exception_handler(Exception, server_error)
