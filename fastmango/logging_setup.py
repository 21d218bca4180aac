"""Logging for the app and the command line: JSON lines in production, readable text otherwise.

Every line carries the id of the request it was written for (`request_id`, set by
request_log.py). Lines are scrubbed of credentials on the way out: a URL's password,
a bearer token, `password=...`-like pairs. That is a safety net; the code still never
logs secrets on purpose (settings.safe_database_url, no query strings, no headers).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from fastmango.conf import BaseSettings

# "-" outside a request (start-up, commands).
request_id: ContextVar[str] = ContextVar("request_id", default="-")

_REDACTIONS = (
    # scheme://user:PASSWORD@host
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]+@"), r"\1***@"),
    # password=..., "token": "...", Authorization: Bearer ...
    (
        re.compile(
            r"(?i)\b([a-z_]*(?:password|passwd|secret|token|api_?key|authorization|cookie))"
            r"(['\"]?\s*[:=]\s*)('[^']*'|\"[^\"]*\"|(?:bearer\s+|basic\s+)?[^\s,;&]+)"
        ),
        r"\1\2***",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 ***"),
)
# LogRecord's own attributes: anything else on a record came in through `extra=`.
_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "color_message",  # uvicorn's ANSI copy of the message
}


def redact(text: str) -> str:
    """`text` with credentials replaced by `***`."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [request id] message`, then any traceback."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, request_id, message, the `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        entry |= {k: v for k, v in record.__dict__.items() if k not in _RECORD_FIELDS}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        # Each value on its own: scrubbing the encoded line could break its JSON.
        safe = {k: redact(v) if isinstance(v, str) else v for k, v in entry.items()}
        return json.dumps(safe, default=lambda value: redact(str(value)), ensure_ascii=False)


class _StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stdout is at the time (test runners swap it, then close theirs)."""

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(settings: BaseSettings, stream: TextIO | None = None) -> None:
    """Send every logger (uvicorn's included) through one handler on stdout (or `stream`)."""
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_fastmango", False)]:
        root.removeHandler(old)
    handler: logging.StreamHandler[TextIO] = (
        logging.StreamHandler(stream) if stream else _StdoutHandler()
    )
    handler.setFormatter(JsonFormatter() if settings.json_logs else TextFormatter())
    handler.addFilter(_RequestIdFilter())
    handler._fastmango = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's own handlers would print in their own format: let its lines reach ours.
    # Its access log is replaced by request_log.py's (no query strings, with the id).
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    access.disabled = True
