"""Django `__` lookups and `Q` objects, compiled to SQLAlchemy expressions.

`resolve(model, Q(webinar__title__icontains="intro") | ~Q(status="cancelled"))`
walks relationships with EXISTS (`has`/`any`), so a filter across a one-to-many
never duplicates rows, and negation keeps Django's NULL semantics.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, inspect, not_, or_, true
from sqlalchemy.orm import InstrumentedAttribute, Mapper, RelationshipProperty

from fastmango.orm.exceptions import FieldError

LOOKUPS = frozenset(
    {
        "exact",
        "iexact",
        "contains",
        "icontains",
        "startswith",
        "istartswith",
        "endswith",
        "iendswith",
        "gt",
        "gte",
        "lt",
        "lte",
        "in",
        "isnull",
        "range",
    }
)
# Integer column types and the bound of their values (both databases agree).
INTEGER_LIMITS = {"SmallInteger": 2**15, "Integer": 2**31, "BigInteger": 2**63}
_TRUE_STRINGS = {"1", "true", "yes", "on"}
_FALSE_STRINGS = {"0", "false", "no", "off"}


class Q:
    """A filter that can be combined with `|` (OR), `&` (AND) and `~` (NOT)."""

    AND = "AND"
    OR = "OR"

    def __init__(self, *args: Q, **kwargs: Any) -> None:
        self.children: list[Q | tuple[str, Any]] = [*args, *sorted(kwargs.items())]
        self.connector = self.AND
        self.negated = False

    def _combine(self, other: object, connector: str) -> Q:
        if not isinstance(other, Q):
            raise TypeError(f"cannot combine Q with {type(other).__name__}")
        combined = Q()
        combined.connector = connector
        combined.children = [self, other]
        return combined

    def __or__(self, other: object) -> Q:
        return self._combine(other, self.OR)

    def __and__(self, other: object) -> Q:
        return self._combine(other, self.AND)

    def __invert__(self) -> Q:
        inverted = Q()
        inverted.children = [self]
        inverted.negated = True
        return inverted

    def __repr__(self) -> str:
        inner = f" {self.connector} ".join(map(repr, self.children))
        return f"{'NOT ' if self.negated else ''}({inner})"


@dataclass
class FieldPath:
    """A `__` path resolved against the mappers: relationships walked, then a column."""

    relationships: list[RelationshipProperty[Any]] = field(default_factory=list)
    attribute: InstrumentedAttribute[Any] | None = None
    column: ColumnElement[Any] | None = None
    lookup: str = "exact"
    # Set when the path ends on a relationship itself (`webinar=obj`, `registrants__isnull`).
    end_relationship: RelationshipProperty[Any] | None = None


def _choices(mapper: Mapper[Any]) -> str:
    names = sorted({*mapper.column_attrs.keys(), *mapper.relationships.keys(), "pk"})
    return ", ".join(names)


def resolve_path(model: type[Any], key: str, *, allow_lookup: bool = True) -> FieldPath:
    """Resolve `webinar__title__icontains` into relationships, a column and a lookup."""
    parts = key.split("__")
    mapper: Mapper[Any] = inspect(model)
    path = FieldPath()
    for index, part in enumerate(parts):
        rest = parts[index + 1 :]
        if part == "pk":
            part = str(mapper.primary_key[0].key)
        if part in mapper.relationships:
            relationship = mapper.relationships[part]
            if not rest or (allow_lookup and len(rest) == 1 and rest[0] in LOOKUPS):
                path.end_relationship = relationship
                path.lookup = rest[0] if rest else "exact"
                return path
            path.relationships.append(relationship)
            mapper = relationship.mapper
            continue
        if part in mapper.column_attrs:
            path.attribute = getattr(mapper.class_, part)
            path.column = mapper.column_attrs[part].columns[0]
            if rest:
                if not allow_lookup:
                    raise FieldError(f"{key!r}: {part!r} is a field, not a relationship")
                if len(rest) > 1 or rest[0] not in LOOKUPS:
                    raise FieldError(
                        f"Unsupported lookup {'__'.join(rest)!r} for field {part!r} in {key!r}. "
                        f"Lookups are: {', '.join(sorted(LOOKUPS))}"
                    )
                path.lookup = rest[0]
            return path
        raise FieldError(
            f"Cannot resolve {part!r} into a field of {mapper.class_.__name__} "
            f"(in {key!r}). Choices are: {_choices(mapper)}"
        )
    raise FieldError(f"Empty field name in {key!r}")


def coerce(column: ColumnElement[Any], value: Any, key: str) -> Any:
    """Turn strings (query strings, forms) into the column's Python type, or say why not.

    Values no row can hold are refused here too, so the database never sees them:
    a NUL character (PostgreSQL rejects it in text) or an integer beyond the column.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return _checked_int(column, value, key)
    if isinstance(value, Decimal | float):
        return _checked_number(column, value, key)
    if not isinstance(value, str):
        return value
    if "\x00" in value:
        raise FieldError(f"Invalid value for {key!r}: NUL characters are not allowed")
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return value
    try:
        if python_type is str:
            return value
        if python_type is bool:
            lowered = value.strip().lower()
            if lowered in _TRUE_STRINGS:
                return True
            if lowered in _FALSE_STRINGS:
                return False
            raise ValueError(value)
        if python_type is int:
            return _checked_int(column, int(value), key)
        if python_type is float:
            return _checked_number(column, float(value), key)
        if python_type is Decimal:
            return _checked_number(column, Decimal(value), key)
        if python_type is datetime:
            moment = datetime.fromisoformat(value)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if python_type is date:
            return date.fromisoformat(value)
        if issubclass(python_type, enum.Enum):
            return python_type(value)
    except (ValueError, InvalidOperation, ArithmeticError) as exc:
        raise FieldError(f"Invalid value {value!r} for {key!r}") from exc
    return value


def _checked_int(column: ColumnElement[Any], value: int, key: str) -> int:
    limit = INTEGER_LIMITS.get(type(column.type).__name__)
    if limit is not None and not -limit <= value < limit:
        raise FieldError(f"Invalid value {value!r} for {key!r}: out of range")
    return value


def _checked_number(column: ColumnElement[Any], value: Decimal | float, key: str) -> Any:
    """Finite, and within NUMERIC(p, s) where the column has one (PostgreSQL overflows)."""
    finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
    if not finite:
        raise FieldError(f"Invalid value {value!r} for {key!r}: not a finite number")
    precision = getattr(column.type, "precision", None)
    scale = getattr(column.type, "scale", None) or 0
    if precision is not None and abs(Decimal(str(value))) >= Decimal(10) ** (precision - scale):
        raise FieldError(f"Invalid value {value!r} for {key!r}: out of range")
    return value


def _column_expression(path: FieldPath, value: Any, key: str) -> ColumnElement[bool]:
    attribute, column, lookup = path.attribute, path.column, path.lookup
    assert attribute is not None
    assert column is not None
    if lookup == "isnull":
        flag = coerce_bool(value, key)
        return attribute.is_(None) if flag else attribute.is_not(None)
    if lookup == "in":
        values = _as_list(value, key)
        if not values:
            return false()
        return attribute.in_([coerce(column, item, key) for item in values])
    if lookup == "range":
        values = _as_list(value, key)
        if len(values) != 2:
            raise FieldError(f"{key!r} needs exactly two values (low, high)")
        low, high = (coerce(column, item, key) for item in values)
        return attribute.between(low, high)
    if value is None:
        if lookup in {"exact", "iexact"}:
            return attribute.is_(None)
        raise FieldError(f"{key!r}: None is only allowed with exact or isnull")
    value = coerce(column, value, key)
    match lookup:
        case "exact":
            return attribute == value
        case "iexact":
            return func.lower(attribute) == func.lower(value)
        case "contains":
            return attribute.contains(value, autoescape=True)
        case "icontains":
            return attribute.icontains(value, autoescape=True)
        case "startswith":
            return attribute.startswith(value, autoescape=True)
        case "istartswith":
            return attribute.istartswith(value, autoescape=True)
        case "endswith":
            return attribute.endswith(value, autoescape=True)
        case "iendswith":
            return attribute.iendswith(value, autoescape=True)
        case "gt":
            return attribute > value
        case "gte":
            return attribute >= value
        case "lt":
            return attribute < value
        case "lte":
            return attribute <= value
    raise FieldError(f"Unsupported lookup {lookup!r} in {key!r}")  # pragma: no cover


def coerce_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE_STRINGS | _FALSE_STRINGS:
        return value.strip().lower() in _TRUE_STRINGS
    raise FieldError(f"{key!r} needs true or false, not {value!r}")


def _as_list(value: Any, key: str) -> list[Any]:
    if isinstance(value, str):
        return [item for item in value.split(",") if item != ""]
    if isinstance(value, Iterable):
        return list(value)
    raise FieldError(f"{key!r} needs a list of values")


def _relationship_end(path: FieldPath, value: Any, key: str) -> ColumnElement[bool]:
    relationship = path.end_relationship
    assert relationship is not None
    attribute: InstrumentedAttribute[Any] = getattr(relationship.parent.class_, relationship.key)
    if path.lookup == "isnull":
        present = attribute.any() if relationship.uselist else attribute.has()
        return not_(present) if coerce_bool(value, key) else present
    if relationship.uselist or len(relationship.local_columns) != 1:
        raise FieldError(f"{key!r}: filter on a field of {relationship.key!r}, e.g. {key}__id")
    # A many-to-one compared with objects or ids: compare the foreign key column.
    (local,) = relationship.local_columns
    fk_attr: InstrumentedAttribute[Any] = getattr(
        relationship.parent.class_, relationship.parent.get_property_by_column(local).key
    )
    target_pk = inspect(relationship.mapper.class_).primary_key[0].key

    def ident(item: Any) -> Any:
        return getattr(item, target_pk) if isinstance(item, relationship.mapper.class_) else item

    fk_path = FieldPath(attribute=fk_attr, column=local, lookup=path.lookup)
    if path.lookup in {"in", "range"}:
        return _column_expression(fk_path, [ident(i) for i in _as_list(value, key)], key)
    return _column_expression(fk_path, ident(value), key)


def resolve_lookup(model: type[Any], key: str, value: Any, negated: bool) -> ColumnElement[bool]:
    path = resolve_path(model, key)
    if path.end_relationship is not None:
        expression = _relationship_end(path, value, key)
    else:
        expression = _column_expression(path, value, key)
        assert path.column is not None
        assert path.attribute is not None
        # Django keeps NULL rows in exclude(): NOT (x = 1) alone would drop them.
        if negated and path.lookup != "isnull" and getattr(path.column, "nullable", True):
            expression = and_(expression, path.attribute.is_not(None))
    for relationship in reversed(path.relationships):
        attribute = getattr(relationship.parent.class_, relationship.key)
        expression = (
            attribute.any(expression) if relationship.uselist else attribute.has(expression)
        )
    return expression


def resolve(model: type[Any], q: Q, negated: bool = False) -> ColumnElement[bool]:
    """Compile a `Q` tree for `model` into one boolean SQL expression."""
    negated = negated != q.negated
    parts: list[ColumnElement[bool]] = []
    for child in q.children:
        if isinstance(child, Q):
            parts.append(resolve(model, child, negated))
        else:
            parts.append(resolve_lookup(model, child[0], child[1], negated))
    if not parts:
        combined: ColumnElement[bool] = true()
    elif q.connector == Q.OR:
        combined = or_(*parts)
    else:
        combined = and_(*parts)
    return not_(combined) if q.negated else combined
