"""A request id for every request and one access line for each, in place of uvicorn's."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastmango.logging_setup import request_id

logger = logging.getLogger("fastmango.access")
HEADER = "x-request-id"
# An id from a proxy or a client is kept only if it is short and harmless in a log line.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# Probes hit these every few seconds: at DEBUG they stay out of the INFO log.
QUIET_PATHS = ("/health",)


def new_request_id(incoming: str | None) -> str:
    if incoming and SAFE_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestLogMiddleware:
    """Sets the request id (context variable, `request.state.request_id`, response header)
    and logs `METHOD path status duration` once the response is sent.

    The path is logged without its query string, which can carry tokens (a password
    reset link). The context variable is not reset afterwards on purpose: the server
    runs each request in a task of its own, and the error handler outside this
    middleware still logs with the id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id(Headers(scope=scope).get(HEADER))
        request_id.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        status = 500  # if the app fails before answering
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path: str = scope["path"]
            level = logging.DEBUG if path.startswith(QUIET_PATHS) else logging.INFO
            if logger.isEnabledFor(level):
                self.log(scope, level, status, time.perf_counter() - started)

    @staticmethod
    def log(scope: Scope, level: int, status: int, seconds: float) -> None:
        duration_ms = round(seconds * 1000, 1)
        path: str = scope["path"]
        client = scope.get("client")
        logger.log(
            level,
            "%s %s %s %.1fms",
            scope["method"],
            path,
            status,
            duration_ms,
            extra={
                "method": scope["method"],
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "client": client[0] if client else None,
            },
        )
