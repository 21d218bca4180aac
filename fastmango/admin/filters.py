"""Django's list filters that sqladmin lacks, on sqladmin's filter protocol.

A filter has a `title`, a `parameter_name` (its query-string key), `lookups()` (the
menu: value, label) and `get_filtered_query()`. admin/guard.py refuses any value not
in the menu with a 400 before these run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Column, Select, select
from starlette.requests import Request

from fastmango.admin.labels import label_for
from fastmango.orm import utcnow
from fastmango.orm.lookups import coerce

ALL = "__all"


class RelatedFilter:
    """Django's RelatedOnlyFieldListFilter: the rows a foreign key column points at, by str()."""

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"

    def __init__(self, column: Column[Any], target: type[Any], title: str) -> None:
        self.foreign_key = column.key  # what guard.check_list_query coerces the value with
        self.parameter_name = column.key
        self.title = title
        self.target = target
        self.referenced = next(iter(column.foreign_keys)).column

    async def lookups(
        self, request: Request, model: Any, run_query: Callable[[Select[Any]], Any]
    ) -> list[tuple[str, str]]:
        used = select(getattr(model, self.foreign_key))
        rows = await run_query(select(self.target).where(self.referenced.in_(used)))
        options = [(str(getattr(row, self.referenced.key)), label_for(row)) for (row,) in rows]
        return [(ALL, "All"), *sorted(options, key=lambda option: option[1].lower())]

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        if value in ("", ALL):
            return query
        column = getattr(model, self.foreign_key)
        return query.where(column == coerce(column, value, self.parameter_name))


def _month_start(day: date, months_later: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months_later
    return date(index // 12, index % 12 + 1, 1)


# Django's DateFieldListFilter menu: value -> (label, [start, end) for today's date).
DATE_CHOICES: dict[str, tuple[str, Callable[[date], tuple[date, date]]]] = {
    "today": ("Today", lambda d: (d, d + timedelta(days=1))),
    "past_7_days": ("Past 7 days", lambda d: (d - timedelta(days=7), d + timedelta(days=1))),
    "this_month": ("This month", lambda d: (_month_start(d), _month_start(d, 1))),
    "this_year": ("This year", lambda d: (date(d.year, 1, 1), date(d.year + 1, 1, 1))),
}


class DateFilter:
    """Django's date filter: Any date, Today, Past 7 days, This month, This year (UTC days)."""

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"
    choices = frozenset(DATE_CHOICES)

    def __init__(self, column: Column[Any], title: str, *, is_date: bool = False) -> None:
        self.column = column.key
        self.parameter_name = column.key
        self.title = title
        self.is_date = is_date  # a Date column compares with dates, a DateTime with UTC times

    async def lookups(
        self, request: Request, model: Any, run_query: Callable[[Select[Any]], Any]
    ) -> list[tuple[str, str]]:
        return [(ALL, "Any date"), *((key, label) for key, (label, _) in DATE_CHOICES.items())]

    def bounds(self, value: str, today: date) -> tuple[date | datetime, date | datetime]:
        start, end = DATE_CHOICES[value][1](today)
        if self.is_date:
            return start, end
        return (
            datetime.combine(start, datetime.min.time(), UTC),
            datetime.combine(end, datetime.min.time(), UTC),
        )

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        if value not in DATE_CHOICES:  # "Any date"; anything else guard refused already
            return query
        start, end = self.bounds(value, utcnow().date())
        column = getattr(model, self.column)
        return query.where(column >= start, column < end)
