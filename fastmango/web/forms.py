"""HTML form helpers: read a posted form into a schema, and errors by field for inline display."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

# Plain words for the errors people make in forms; pydantic's text for the rest.
_MESSAGES = {
    "missing": "This field is required.",
    "string_too_short": "This field is required.",
    "string_pattern_mismatch": "Enter a value with visible characters.",
    "decimal_parsing": "Enter a number, like 12.50.",
    "decimal_max_places": "Use at most 2 decimal places.",
    "decimal_max_digits": "That number is too large.",
    "greater_than_equal": "Enter a number that is 0 or more.",
    "value_error": "Enter a valid value.",
}


def field_errors(exc: ValidationError) -> dict[str, str]:
    """`{"price": "Enter a number, like 12.50."}`: the first error of each field."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "__all__"
        if field in errors:
            continue
        message = _MESSAGES.get(error["type"], str(error["msg"]))
        if error["type"] == "string_too_long":
            message = f"Use at most {error.get('ctx', {}).get('max_length')} characters."
        elif error["type"] == "value_error" and "email" in field:
            message = "Enter a valid email address."
        errors[field] = message
    return errors


async def read_form(request: Request, fields: tuple[str, ...]) -> dict[str, str]:
    """The posted text fields named in `fields` (files and unknown fields are ignored)."""
    form = await request.form()
    return {name: value for name in fields if isinstance(value := form.get(name), str)}


def validate(schema: type[M], data: dict[str, Any]) -> tuple[M | None, dict[str, str]]:
    try:
        return schema.model_validate(data), {}
    except ValidationError as exc:
        return None, field_errors(exc)


def query_string(params: dict[str, Any], **changes: Any) -> str:
    """`?q=lamp&page=2` from the current params with `changes`; empty values are left out."""
    merged = {**params, **changes}
    kept = {k: v for k, v in merged.items() if v not in (None, "")}
    return f"?{urlencode(kept)}" if kept else "?"
