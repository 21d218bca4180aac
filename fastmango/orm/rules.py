"""Rules every row keeps whatever path writes or shows it.

- Text holds no NUL character. PostgreSQL refuses one in text while SQLite stores it,
  so without one rule here the same input is a 400 on one database and silently kept
  on the other. Checked on every flush (`save()`, `create()`, fastapi-users, the
  admin), in `bulk_create` and (through `lookups.coerce`) in queryset `update()`.
- A secret (a password hash, a token digest, a key) never appears in `repr()` or
  `str()` of a row: those reach logs, tracebacks and the shell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Mapper

from fastmango.orm.exceptions import FieldError

# Field names whose values are secrets, whatever the model; `is_secret_field` adds
# every name that says so (`api_key`, `refresh_token`, `client_secret` ...).
SECRET_FIELDS = frozenset({"hashed_password", "password", "token", "secret", "api_key"})
_SECRET_WORDS = ("password", "secret", "token", "api_key", "private_key")

NUL_MESSAGE = "NUL characters are not allowed."


def is_secret_field(name: str) -> bool:
    """True for a field whose value must never be shown: `hashed_password`, `token` ..."""
    lowered = name.lower()
    return lowered in SECRET_FIELDS or any(word in lowered for word in _SECRET_WORDS)


def check_text(model: type[Any], values: Mapping[str, Any]) -> None:
    """Raise FieldError (a 400) naming each text value of `values` that holds a NUL."""
    bad = [name for name, value in values.items() if isinstance(value, str) and "\x00" in value]
    if bad:
        errors = [{"field": name, "msg": NUL_MESSAGE} for name in bad]
        fields = ", ".join(map(repr, bad))
        message = f"Invalid value for {fields} of {model.__name__}: {NUL_MESSAGE}"
        raise FieldError(message, errors=errors)


def check_rows(model: type[Any], rows: Iterable[Mapping[str, Any]]) -> None:
    for row in rows:
        check_text(model, row)


def check_instance(target: Any) -> None:
    """`check_text` over a row's loaded and assigned column values (never loads any)."""
    state = target.__dict__
    mapper: Mapper[Any] = inspect(type(target))
    values = {attr.key: state[attr.key] for attr in mapper.column_attrs if attr.key in state}
    check_text(type(target), values)


def _check_on_flush(_mapper: Mapper[Any], _connection: Any, target: Any) -> None:
    # The backstop for writers that bypass the Model API (fastapi-users, the admin).
    # Model.save()/create() check before the flush, so a refusal there needs no
    # rollback, which would expire every other object of the session.
    check_instance(target)


def install(base: type[Any]) -> None:
    """Check text on every insert and update of `base` and its subclasses."""
    for name in ("before_insert", "before_update"):
        if not event.contains(base, name, _check_on_flush):
            event.listen(base, name, _check_on_flush, propagate=True)
