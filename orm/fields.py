"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC.

    PostgreSQL keeps the zone (timestamptz); SQLite has no zone type, so values are
    stored as naive UTC and given back as aware UTC. Naive input is refused: a naive
    datetime is a bug waiting to happen.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: use an aware one (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class DecimalType(TypeDecorator[Decimal]):
    """NUMERIC(precision, scale) that gives back exact `Decimal`s on both databases.

    SQLite has no decimal type; SQLAlchemy warns when asked for Decimals from it.
    We store a float there (NUMERIC affinity, so ordering and sums work) and
    quantize back to the declared scale, which is exact for the money-sized values
    this app keeps.
    """

    impl = Numeric
    cache_ok = True

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal

    def __init__(self, precision: int = 10, scale: int = 2) -> None:
        super().__init__(precision=precision, scale=scale)
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        precision = self.precision
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Numeric(precision, self.scale, asdecimal=False))
        return dialect.type_descriptor(Numeric(precision, self.scale))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        quantized = Decimal(str(value)).quantize(self._quantum, rounding=ROUND_HALF_EVEN)
        return float(quantized) if dialect.name == "sqlite" else quantized

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(self._quantum, rounding=ROUND_HALF_EVEN)
