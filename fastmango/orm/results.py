"""What some QuerySet methods give back: pages, and the aggregates `aggregate()` takes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and what a pager needs to draw itself."""

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


class Aggregate:
    """`qs.aggregate(avg_price=Avg("price"))`: one SQL aggregate over a field."""

    function = "count"

    def __init__(self, field: str = "pk") -> None:
        self.field = field


class Count(Aggregate):
    function = "count"


class Sum(Aggregate):
    function = "sum"


class Avg(Aggregate):
    function = "avg"


class Min(Aggregate):
    function = "min"


class Max(Aggregate):
    function = "max"
