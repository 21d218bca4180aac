"""Domain errors raised by services and the ORM; `handlers.py` turns them into responses."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a service may raise on purpose."""

    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class ValidationError(DomainError):
    """The input is well-formed but not acceptable (unknown filter field, bad value...)."""

    status_code = 400
    code = "invalid"


class NotAuthenticated(DomainError):
    """Nobody is signed in: a 401 for API clients, a redirect to the login page for browsers."""

    status_code = 401
    code = "not_authenticated"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class PermissionDenied(DomainError):
    status_code = 403
    code = "permission_denied"


class Conflict(DomainError):
    """The change would break a uniqueness rule or the current state."""

    status_code = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    """An upload is over the size limit (`MAX_UPLOAD_SIZE`)."""

    status_code = 413
    code = "too_large"


class TooManyRequests(DomainError):
    """Over a rate limit: a 429 with `Retry-After: retry_after` (seconds)."""

    status_code = 429
    code = "throttled"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
