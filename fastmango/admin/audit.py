"""What ModelAdmin's hooks do around every admin write: validate it, then audit it.

sqladmin saves through its own session and commits before `after_model_change` /
`after_model_delete` run; the AuditLog row is then written in the request's session
scope, right after the change (a failure shows as an error on the admin page).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import MANYTOONE
from starlette.requests import Request

from fastmango.accounts.audit_service import AuditService, diff, snapshot
from fastmango.accounts.models import AuditAction, User
from fastmango.admin.labels import label_for
from fastmango.orm import current_session
from fastmango.orm.exceptions import FieldError
from fastmango.orm.lookups import coerce

_PENDING = "admin_audit_before"


def validate(model_class: type[Any], row: Any, data: dict[str, Any]) -> None:
    """Check the submitted fields with the model's own rules (length, `ge=0` ...).

    Raises ValueError naming each submitted field that breaks a rule; the database
    constraints stay the last word on everything else.
    """
    mapper = sa_inspect(model_class)
    values = {attr.key: getattr(row, attr.key) for attr in mapper.column_attrs}
    values |= {key: value for key, value in data.items() if key in values}
    for relation in mapper.relationships:
        # A many-to-one comes from the form as the related key: that is the FK column.
        if relation.direction is MANYTOONE and data.get(relation.key):
            for column in relation.local_columns:
                values[column.key] = data[relation.key]
    problems: list[str] = []
    try:
        model_class.model_validate(values)
    except PydanticValidationError as exc:
        problems = [
            f"{error['loc'][0]}: {error['msg']}"
            for error in exc.errors()
            if error["loc"] and error["loc"][0] in data
        ]
    # What the model allows but the column cannot hold (an integer beyond INTEGER): the
    # driver's error would name the statement, and differ between SQLite and PostgreSQL.
    for key in data.keys() & mapper.column_attrs.keys():
        try:
            coerce(mapper.columns[key], data[key], key)
        except FieldError as exc:
            problems.append(f"{key}: {exc.detail}")
    if problems:
        raise ValueError("; ".join(problems))


def snapshot_with_relations(obj: Any) -> dict[str, Any]:
    """Columns (secrets left out) plus the to-many relations loaded with the row, by label."""
    values = snapshot(obj)
    state = sa_inspect(obj)
    for relation in sa_inspect(type(obj)).relationships:
        # Only what sqladmin loaded for the form: touching anything else is a query
        # (and an error, relations never load lazily here).
        if relation.uselist and relation.key not in state.unloaded:
            values[relation.key] = sorted(label_for(row) for row in getattr(obj, relation.key))
    return values


def remember(request: Request, obj: Any, values: dict[str, Any]) -> None:
    """Keep the row's values from before the change until the matching `after_` hook."""
    pending: dict[int, dict[str, Any]] | None = getattr(request.state, _PENDING, None)
    if pending is None:
        pending = {}
        setattr(request.state, _PENDING, pending)
    pending[id(obj)] = values


def _recall(request: Request, obj: Any) -> dict[str, Any]:
    pending: dict[int, dict[str, Any]] = getattr(request.state, _PENDING, {})
    return pending.pop(id(obj), {})


def actor(request: Request) -> User | None:
    user: User | None = getattr(request.state, "user", None)
    return user


async def _fresh_scope() -> None:
    # End the request session's read transaction: sqladmin committed on its own
    # connection, and SQLite refuses a write from a transaction whose snapshot
    # predates that commit (SQLITE_BUSY_SNAPSHOT). Nothing is pending in it.
    await current_session().commit()


async def record_created(request: Request, obj: Any) -> None:
    await _fresh_scope()
    after = snapshot_with_relations(obj)
    changes = {key: [None, value] for key, value in after.items()}
    await AuditService().record(actor(request), AuditAction.CREATE, obj, changes)


async def record_changed(request: Request, obj: Any, extra: dict[str, Any] | None = None) -> None:
    """An UPDATE row with the fields that changed; written even when none did (as Django)."""
    await _fresh_scope()
    changes = diff(_recall(request, obj), snapshot_with_relations(obj)) | (extra or {})
    await AuditService().record(actor(request), AuditAction.UPDATE, obj, changes)


async def record_deleted(request: Request, obj: Any) -> None:
    await _fresh_scope()
    await AuditService().deleted(actor(request), obj, _recall(request, obj))
