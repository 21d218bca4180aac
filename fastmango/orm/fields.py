"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, LargeBinary, Numeric
from sqlalchemy import Enum as SAEnum
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


class VectorType(TypeDecorator[Any]):
    """A fixed-size float vector: pgvector's `vector(n)` on PostgreSQL (indexable with HNSW),
    little-endian float32 bytes in a BLOB on SQLite (ranked in NumPy there).

    Values go in as any float sequence and come back as a float32 NumPy array on both.
    """

    impl = LargeBinary
    cache_ok = True

    def __init__(self, dimensions: int) -> None:
        super().__init__()
        self.dimensions = dimensions

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from pgvector.sqlalchemy import Vector

            return dialect.type_descriptor(Vector(self.dimensions))
        return dialect.type_descriptor(LargeBinary())

    def _array(self, value: Any) -> Any:
        import numpy as np

        array = np.asarray(value, dtype=np.float32)
        if array.shape != (self.dimensions,):
            raise ValueError(f"expected {self.dimensions} numbers, got shape {array.shape}")
        return array

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        array = self._array(value)
        if dialect.name == "postgresql":
            return array  # pgvector's own bind processing takes an array
        return array.astype("<f4").tobytes()

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        import numpy as np

        if isinstance(value, bytes | memoryview):
            return np.frombuffer(bytes(value), dtype="<f4").astype(np.float32)
        return np.asarray(value, dtype=np.float32)


# Relationships never load lazily: under asyncio an implicit load is an error, so
# say it clearly (use select_related/prefetch_related instead).
NO_LAZY: dict[str, Any] = {"lazy": "raise_on_sql"}


def enum_column(enum_class: type[enum.Enum], name: str) -> SAEnum:
    """A portable enum: VARCHAR plus a CHECK constraint, storing the values."""
    return SAEnum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
