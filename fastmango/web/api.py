"""Shared pieces of the JSON API: the error shape, pages, strict query strings, ETags."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, Self, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from fastmango.orm import FieldError, Page

T = TypeVar("T")


class ErrorOut(BaseModel):
    """Every 4xx answer of the API: a sentence and a stable code (422 adds `errors`)."""

    detail: str
    code: str
    errors: list[dict[str, Any]] | None = None


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Bad query string or body (the detail names the field)",
        401: "Not signed in (send Authorization: Bearer)",
        403: "Signed in without the permission, or a failed CSRF check",
        404: "No such object",
        409: "Conflicts with what is stored (duplicate, state)",
        413: "The body is too large",
        422: "The body does not match the schema",
        429: "Too many requests; see Retry-After",
    }
    return {s: {"model": ErrorOut, "description": descriptions[s]} for s in statuses}


def cached_get(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Responses of a GET that sends an ETag: 304 when If-None-Match matches, and errors."""
    return {304: {"description": "Not modified: If-None-Match matched the ETag"}} | errors(
        *statuses
    )


class Paged(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int
    pages: int

    @classmethod
    def of(cls, result: Page[Any], items: list[T]) -> Self:
        """The API shape of an ORM `Page`, with its items converted for output."""
        return cls(
            items=items,
            total=result.total,
            page=result.page,
            per_page=result.per_page,
            pages=result.pages,
        )


def ordering_pattern(fields: Iterable[str]) -> str:
    """A regex for `ordering=-price,name`, so the schema tells clients the valid names.

    Documented only: the service checks the value and answers 400 naming what is unknown.
    """
    field = f"-?(?:{'|'.join(fields)})"
    return f"^{field}(?:,{field})*$"


def strict_query(allowed: Iterable[str]) -> Callable[[Request], Awaitable[None]]:
    """A dependency refusing query parameters the endpoint does not know (400 naming them)."""
    known = frozenset(allowed)

    async def check(request: Request) -> None:  # async: no threadpool hop
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            raise FieldError(
                f"Unknown query parameter(s): {', '.join(unknown)}. "
                f"Allowed: {', '.join(sorted(known))}"
            )

    return check


def etag_json(request: Request, payload: BaseModel, status_code: int = 200) -> Response:
    """Serialise once, tag with a hash of the bytes, answer 304 when the client has them."""
    body = payload.model_dump_json().encode()
    etag = f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    match = request.headers.get("if-none-match", "")
    if etag in {tag.strip().removeprefix("W/") for tag in match.split(",")} or match == "*":
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


def json_created(payload: BaseModel) -> JSONResponse:
    return JSONResponse(payload.model_dump(mode="json"), status_code=201)
