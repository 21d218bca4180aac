"""A duplicate on an admin save is a form error (400, nothing saved), as in Django.

Before the row is written, each unique constraint or unique index of the model is
looked up with the values the row is about to have; a taken one is reported on its
form field ("A product with this name already exists.") or, for a constraint over
several columns, above the form. A concurrent insert can still win between that check
and the commit: the IntegrityError is then checked against the constraints again and
reported the same way. sqladmin logs whatever a save raises with its traceback; a
refused duplicate is not a fault, so `QuietDuplicates` keeps it out of the log.
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, UniqueConstraint, and_, not_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.interfaces import MANYTOONE
from starlette.requests import Request
from wtforms import Form  # type: ignore[import-untyped]

from fastmango.orm.exceptions import FieldError
from fastmango.orm.lookups import coerce

# The form sqladmin built last in this request: the one whose data is being saved.
_current_form: ContextVar[Form | None] = ContextVar("admin_form", default=None)
_STATE_KEY = "admin_unique_values"


class TrackedForm(Form):  # type: ignore[misc]
    """sqladmin's base form class, remembered so a save can put errors on its fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _current_form.set(self)


class DuplicateError(ValueError):
    """A unique value is taken; sqladmin shows the message above the form with a 400."""


class QuietDuplicates(logging.Filter):
    """Drops sqladmin's traceback for a refused duplicate (a user's mistake, not a fault)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DuplicateError))


QUIET = QuietDuplicates()


@dataclass(frozen=True)
class Rule:
    """One unique constraint: its columns and the form field each is edited with."""

    columns: tuple[Column[Any], ...]
    fields: tuple[str, ...]


def _field_of(mapper: Mapper[Any], column: Column[Any]) -> str:
    # A foreign key column is edited through its many-to-one relation (`webinar`).
    for relation in mapper.relationships:
        if relation.direction is MANYTOONE and list(relation.local_columns) == [column]:
            return relation.key
    return mapper.get_property_by_column(column).key


def rules(model: type[Any]) -> list[Rule]:
    """The model's unique constraints and plain unique indexes (not partial, no expressions)."""
    mapper: Mapper[Any] = sa_inspect(model)
    table = model.__table__
    groups: list[tuple[Column[Any], ...]] = [
        tuple(constraint.columns)
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    ]
    for index in table.indexes:
        partial = any(key.endswith("_where") and value is not None
                      for key, value in index.dialect_kwargs.items())  # fmt: skip
        if index.unique and not partial and len(index.expressions) == len(index.columns):
            groups.append(tuple(index.columns))
    found: dict[frozenset[str], Rule] = {}
    for group in groups:
        names = frozenset(column.key for column in group)
        if group and names not in found:
            found[names] = Rule(group, tuple(_field_of(mapper, c) for c in group))
    return list(found.values())


def _value(mapper: Mapper[Any], column: Column[Any], data: dict[str, Any], row: Any) -> Any:
    """The value `column` will have once the form's `data` is set on `row`."""
    key = mapper.get_property_by_column(column).key
    field = _field_of(mapper, column)
    if field in data:
        value = data[field]
    elif key in data:
        value = data[key]
    else:
        return getattr(row, key, None)
    if value is None or value == "":
        return None
    try:
        return coerce(column, value, field)
    except FieldError:
        return None  # the form or the model rules refuse it with a better message


def message(model: type[Any], fields: tuple[str, ...]) -> str:
    """Django's wording: "A webinar registrant with this webinar and email already exists."."""
    name = re.sub(r"(?<!^)(?=[A-Z])", " ", model.__name__).lower()
    article = "An" if name[0] in "aeio" else "A"  # "a user", "an order"
    names = " and ".join(field.replace("_", " ") for field in fields)
    return f"{article} {name} with this {names} already exists."


def remember(model: type[Any], data: dict[str, Any], row: Any, request: Request) -> None:
    """Note the values `row` will be saved with (read again if the commit fails)."""
    mapper: Mapper[Any] = sa_inspect(model)
    state = sa_inspect(row)
    identity = state.identity if state.persistent else None
    values = {
        column.key: _value(mapper, column, data, row)
        for rule in rules(model)
        for column in rule.columns
    }
    setattr(request.state, _STATE_KEY, (values, identity))


async def taken(model_admin: Any, request: Request) -> list[tuple[str, ...]]:
    """The field groups whose values (noted by `remember`) another row already has."""
    noted = getattr(request.state, _STATE_KEY, None)
    if noted is None:
        return []
    values, identity = noted
    model = model_admin.model
    mapper: Mapper[Any] = sa_inspect(model)
    found: list[tuple[str, ...]] = []
    async with model_admin.session_maker() as session:
        for rule in rules(model):
            if any(values[column.key] is None for column in rule.columns):
                continue  # NULLs never collide
            stmt = select(1).select_from(mapper.local_table)
            stmt = stmt.where(*(column == values[column.key] for column in rule.columns))
            if identity is not None:
                same = (pk == value for pk, value in zip(mapper.primary_key, identity, strict=True))
                stmt = stmt.where(not_(and_(*same)))
            if (await session.execute(stmt.limit(1))).first() is not None:
                found.append(rule.fields)
    return found


def refuse(model: type[Any], duplicates: list[tuple[str, ...]]) -> DuplicateError:
    """The error to raise: each message on its form field, or above the form."""
    form = _current_form.get()
    general: list[str] = []
    for fields in duplicates:
        text = message(model, fields)
        if form is not None and len(fields) == 1 and fields[0] in form:
            field = form[fields[0]]
            field.errors = [*field.errors, text]
        else:
            general.append(text)
    return DuplicateError(" ".join(general) or "Please correct the errors below.")
