"""Check what an admin URL carries before sqladmin turns it into SQL.

sqladmin 0.32 converts ids and filter values with a bare `int(...)` (or not at all) and
hands the result to the driver, so `details/abc`, `edit/99999999999999999999999`, `1%00`
or `?status=bogus` ended as a 500 (ValueError, integer overflow, PostgreSQL refusing a
NUL). Every value here goes through the ORM's own coercion (`orm.lookups.coerce`), which
knows each column's type and range, so the answer is the same on SQLite and PostgreSQL:
a malformed id names no row (404), a malformed list parameter is a bad request (400).
"""

from __future__ import annotations

from typing import Any

from sqladmin.filters import BooleanFilter, StaticValuesFilter, get_column_obj
from sqladmin.helpers import _object_identifier_parts, get_primary_keys
from sqlalchemy import ColumnElement
from starlette.exceptions import HTTPException
from starlette.requests import Request

from fastmango.admin.filters import DateFilter
from fastmango.orm.exceptions import FieldError
from fastmango.orm.lookups import coerce

# sqladmin's "no filter" values (the lookup menus send "__all"; booleans say "all").
_ALL = frozenset({"", "__all", "all"})


def pk_conditions(model: type[Any], identifier: str) -> list[ColumnElement[bool]]:
    """`pk == value` for each primary key column; FieldError when the id cannot be one."""
    columns = get_primary_keys(model)
    try:
        parts = _object_identifier_parts(identifier, model)
    except ValueError as exc:  # a composite key with the wrong number of parts
        raise FieldError(str(exc)) from None
    if len(parts) != len(columns):
        raise FieldError(f"Malformed identifier for {model.__name__}")
    return [
        column == coerce(column, part, column.key)
        for column, part in zip(columns, parts, strict=True)
    ]


def row_conditions(model: type[Any], identifier: str) -> list[ColumnElement[bool]]:
    """As `pk_conditions`, for a URL: an id no row can have is a 404, as a missing row."""
    try:
        return pk_conditions(model, identifier)
    except FieldError:
        raise HTTPException(404, "There is no such row.") from None


def _choices(filter_: Any) -> set[str] | None:
    """The only values a filter with a fixed menu accepts (None: any value of its column)."""
    if isinstance(filter_, BooleanFilter):
        return {"true", "false"}
    if isinstance(filter_, StaticValuesFilter):
        return {str(value) for value, _label in filter_.values}
    if isinstance(filter_, DateFilter):
        return set(filter_.choices)
    return None


def check_list_query(model: type[Any], filters: list[Any], request: Request) -> None:
    """400 for a filter value its column cannot hold, or a search term no database takes."""
    params = request.query_params
    for filter_ in filters:
        value = params.get(filter_.parameter_name)
        if value is None or value in _ALL:
            continue
        choices = _choices(filter_)
        if choices is not None:
            if value not in choices:
                raise HTTPException(400, f"Invalid value for the filter {filter_.title!r}.")
            continue
        attribute = getattr(filter_, "foreign_key", None) or filter_.column
        try:
            coerce(get_column_obj(attribute, model), value, filter_.parameter_name)
        except FieldError:
            raise HTTPException(400, f"Invalid value for the filter {filter_.title!r}.") from None
    if "\x00" in params.get("search", ""):
        # SQLite would search for it; PostgreSQL refuses the statement.
        raise HTTPException(400, "Invalid search: NUL characters are not allowed.")
