"""A lazy, chainable, Django-style QuerySet over SQLAlchemy's async session.

Nothing runs until the QuerySet is awaited (`await qs`), iterated (`async for`)
or asked for a result (`await qs.count()`, `.first()`, `.paginate()` ...).
Every chaining method returns a new QuerySet, so a base query can be reused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Generator, Iterable, Sequence
from typing import Any, Generic, Literal, Self, TypeVar, cast, overload

from sqlalchemy import ColumnElement, Select, delete, func, inspect, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, aliased, joinedload, selectinload
from sqlalchemy.orm.strategy_options import _AbstractLoad

from fastmango.errors import NotFound
from fastmango.orm.exceptions import FieldError
from fastmango.orm.fields import utcnow
from fastmango.orm.lookups import Q, coerce, resolve, resolve_path
from fastmango.orm.results import Aggregate, Page
from fastmango.orm.scope import current_session, write

T = TypeVar("T")
ResultMode = Literal["model", "dict", "tuple", "flat"]
MAX_GET_RESULTS = 21


class QuerySet(Generic[T]):
    """Rows of `model` (or dicts/tuples after `values()`), built lazily."""

    def __init__(self, model: type[Any], session: AsyncSession | None = None) -> None:
        self.model = model
        self._session = session
        self._where: tuple[ColumnElement[bool], ...] = ()
        self._order: tuple[str, ...] = ()
        self._limit: int | None = None
        self._offset: int | None = None
        self._loads: tuple[_AbstractLoad, ...] = ()
        self._fields: tuple[str, ...] = ()
        self._mode: ResultMode = "model"
        self._distinct = False

    # -- building ------------------------------------------------------------------
    def _clone(self) -> Self:
        clone = self.__class__.__new__(self.__class__)
        clone.__dict__.update(self.__dict__)
        return clone

    @property
    def _mapper(self) -> Mapper[Any]:
        return cast(Mapper[Any], inspect(self.model))

    def using(self, session: AsyncSession) -> Self:
        """Run this QuerySet on an explicit session instead of the scope's."""
        clone = self._clone()
        clone._session = session
        return clone

    def all(self) -> Self:
        return self._clone()

    def filter(self, *args: Q, **kwargs: Any) -> Self:
        clone = self._clone()
        clone._where = (*self._where, resolve(self.model, Q(*args, **kwargs)))
        return clone

    def exclude(self, *args: Q, **kwargs: Any) -> Self:
        clone = self._clone()
        clone._where = (*self._where, resolve(self.model, ~Q(*args, **kwargs)))
        return clone

    def order_by(self, *fields: str) -> Self:
        for name in fields:
            if name != "?":
                self._order_column(name.removeprefix("-"))  # fail early, naming the field
        clone = self._clone()
        clone._order = tuple(fields)
        return clone

    def distinct(self) -> Self:
        clone = self._clone()
        clone._distinct = True
        return clone

    def select_related(self, *paths: str) -> Self:
        """Load many-to-one (and one-to-one) relations in the same query, with a JOIN."""
        clone = self._clone()
        clone._loads = (*self._loads, *(self._load_option(p, joinedload) for p in paths))
        return clone

    def prefetch_related(self, *paths: str) -> Self:
        """Load collections with one extra `SELECT ... IN` query per relation."""
        clone = self._clone()
        clone._loads = (*self._loads, *(self._load_option(p, selectinload) for p in paths))
        return clone

    def values(self, *fields: str) -> QuerySet[dict[str, Any]]:
        return cast(QuerySet[dict[str, Any]], self._with_fields(fields, "dict"))

    @overload
    def values_list(
        self, *fields: str, flat: Literal[False] = ...
    ) -> QuerySet[tuple[Any, ...]]: ...
    @overload
    def values_list(self, *fields: str, flat: Literal[True]) -> QuerySet[Any]: ...
    def values_list(self, *fields: str, flat: bool = False) -> QuerySet[Any]:
        if flat and len(fields) != 1:
            raise TypeError("values_list(flat=True) takes exactly one field")
        return self._with_fields(fields, "flat" if flat else "tuple")

    def _with_fields(self, fields: Sequence[str], mode: ResultMode) -> QuerySet[Any]:
        names = tuple(fields) or tuple(self._mapper.column_attrs.keys())
        for name in names:
            self._order_column(name)
        clone: QuerySet[Any] = self._clone()
        clone._fields = names
        clone._mode = mode
        return clone

    @overload
    def __getitem__(self, key: slice) -> Self: ...
    @overload
    def __getitem__(self, key: int) -> Coroutine[Any, Any, T]: ...
    def __getitem__(self, key: slice | int) -> Self | Coroutine[Any, Any, T]:
        """`qs[10:20]` is a QuerySet (LIMIT/OFFSET); `await qs[3]` is one row."""
        if isinstance(key, int):
            if key < 0:
                raise ValueError("Negative indexing is not supported.")
            return self[key : key + 1]._single()
        if (key.start or 0) < 0 or (key.stop or 0) < 0:
            raise ValueError("Negative indexing is not supported.")
        if key.step not in (None, 1):
            raise ValueError("Slice steps are not supported.")
        clone = self._clone()
        start = (self._offset or 0) + (key.start or 0)
        clone._offset = start or None
        if key.stop is not None:
            stop = (self._offset or 0) + key.stop
            if self._limit is not None:
                stop = min(stop, (self._offset or 0) + self._limit)
            clone._limit = max(0, stop - start)
        return clone

    async def _single(self) -> T:
        rows = await self._fetch()
        if not rows:
            raise IndexError("QuerySet index out of range")
        return rows[0]

    # -- SQL -----------------------------------------------------------------------
    def _order_column(self, name: str) -> tuple[tuple[Any, ...], ColumnElement[Any]]:
        """The column for `name` and the relationships to join to reach it."""
        path = resolve_path(self.model, name, allow_lookup=False)
        if path.end_relationship is not None or path.attribute is None:
            raise FieldError(f"{name!r} is a relationship; name one of its fields")
        if any(rel.uselist for rel in path.relationships):
            raise FieldError(f"{name!r} crosses a collection; only many-to-one paths can be used")
        return tuple(path.relationships), path.attribute

    def _joined(self, stmt: Select[Any], names: Iterable[str]) -> tuple[Select[Any], list[Any]]:
        """Join (outer, aliased per path) what `names` need; return the columns."""
        aliases: dict[tuple[Any, ...], Any] = {}
        columns: list[Any] = []
        for name in names:
            relationships, attribute = self._order_column(name)
            if not relationships:
                columns.append(attribute)
                continue
            parent: Any = self.model
            for depth in range(1, len(relationships) + 1):
                key = relationships[:depth]
                if key not in aliases:
                    relationship = relationships[depth - 1]
                    alias = aliased(relationship.mapper.class_)
                    stmt = stmt.outerjoin(getattr(parent, relationship.key).of_type(alias))
                    aliases[key] = alias
                parent = aliases[key]
            columns.append(getattr(parent, str(attribute.key)))
        return stmt, columns

    def _order_clauses(self, stmt: Select[Any]) -> Select[Any]:
        if not self._order:
            return stmt
        if "?" in self._order:
            return stmt.order_by(func.random())
        stmt, columns = self._joined(stmt, (name.removeprefix("-") for name in self._order))
        clauses = [
            column.desc() if name.startswith("-") else column.asc()
            for name, column in zip(self._order, columns, strict=True)
        ]
        return stmt.order_by(*clauses)

    def _statement(self) -> Select[Any]:
        if self._mode == "model":
            stmt: Select[Any] = select(self.model)
            if self._loads:
                stmt = stmt.options(*self._loads)
        else:
            stmt, columns = self._joined(select(self.model), self._fields)
            stmt = stmt.with_only_columns(*columns, maintain_column_froms=True)
        stmt = stmt.where(*self._where)
        stmt = self._order_clauses(stmt)
        if self._distinct:
            stmt = stmt.distinct()
        if self._offset:
            stmt = stmt.offset(self._offset)
        if self._limit is not None:
            stmt = stmt.limit(self._limit)
        return stmt

    def _load_option(self, path: str, loader: Any) -> _AbstractLoad:
        mapper = self._mapper
        option: Any = None
        for part in path.split("__"):
            if part not in mapper.relationships:
                raise FieldError(
                    f"Invalid relation {part!r} in {path!r} for {mapper.class_.__name__}; "
                    f"relations are: {', '.join(sorted(mapper.relationships.keys())) or 'none'}"
                )
            attribute = getattr(mapper.class_, part)
            option = (
                loader(attribute) if option is None else getattr(option, loader.__name__)(attribute)
            )
            mapper = mapper.relationships[part].mapper
        return cast(_AbstractLoad, option)

    @property
    def session(self) -> AsyncSession:
        return self._session if self._session is not None else current_session()

    # -- evaluation ----------------------------------------------------------------
    async def _fetch(self) -> list[T]:
        result = await self.session.execute(self._statement())
        if self._mode == "model":
            return cast(list[T], list(result.scalars().unique().all()))
        if self._mode == "dict":
            return cast(list[T], [dict(zip(self._fields, row, strict=True)) for row in result])
        if self._mode == "flat":
            return cast(list[T], list(result.scalars().all()))
        return cast(list[T], [tuple(row) for row in result])

    def __await__(self) -> Generator[Any, None, list[T]]:
        return self._fetch().__await__()

    async def __aiter__(self) -> AsyncIterator[T]:
        for row in await self._fetch():
            yield row

    def _ordered_or_pk(self) -> Self:
        if self._order:
            return self
        return self.order_by(*(str(column.key) for column in self._mapper.primary_key))

    async def first(self) -> T | None:
        rows = await self._ordered_or_pk()[:1]._fetch()
        return rows[0] if rows else None

    async def last(self) -> T | None:
        ordered = self._ordered_or_pk()
        reversed_order = tuple(
            name[1:] if name.startswith("-") else f"-{name}" for name in ordered._order
        )
        rows = await ordered.order_by(*reversed_order)[:1]._fetch()
        return rows[0] if rows else None

    async def get(self, *args: Q, **kwargs: Any) -> T:
        """The one matching row; raises `Model.DoesNotExist` or `MultipleObjectsReturned`."""
        rows = await self.filter(*args, **kwargs)[:MAX_GET_RESULTS]._fetch()
        if not rows:
            raise self.model.DoesNotExist(f"{self.model.__name__} matching query does not exist.")
        if len(rows) > 1:
            found = (
                f"more than {MAX_GET_RESULTS - 1}" if len(rows) == MAX_GET_RESULTS else len(rows)
            )
            raise self.model.MultipleObjectsReturned(
                f"get() returned more than one {self.model.__name__} -- it returned {found}!"
            )
        return rows[0]

    async def get_or_none(self, *args: Q, **kwargs: Any) -> T | None:
        try:
            return await self.get(*args, **kwargs)
        except self.model.DoesNotExist:
            return None

    async def get_or_404(self, *args: Q, **kwargs: Any) -> T:
        """Like `get`, but a missing row raises `errors.NotFound` (a 404 in views)."""
        try:
            return await self.get(*args, **kwargs)
        except self.model.DoesNotExist:
            raise NotFound(f"{self.model.__name__} not found") from None

    async def count(self) -> int:
        if self._limit is not None or self._offset or self._distinct:
            stmt = select(func.count()).select_from(self._statement().order_by(None).subquery())
        else:
            stmt = select(func.count()).select_from(self.model).where(*self._where)
        return int((await self.session.execute(stmt)).scalar_one())

    async def exists(self) -> bool:
        stmt = select(literal(1)).select_from(self.model).where(*self._where).limit(1)
        return (await self.session.execute(stmt)).first() is not None

    async def aggregate(self, **aggregates: Aggregate) -> dict[str, Any]:
        """`{"avg_price": Decimal(...), ...}` for `aggregate(avg_price=Avg("price"))`."""
        columns = []
        for alias, aggregate in aggregates.items():
            _, column = self._order_column(aggregate.field)
            columns.append(getattr(func, aggregate.function)(column).label(alias))
        stmt = select(*columns).select_from(self.model).where(*self._where)
        row = (await self.session.execute(stmt)).one()
        return dict(row._mapping)

    async def paginate(self, page: int = 1, per_page: int = 20) -> Page[T]:
        """Items of one page plus the total; unordered querysets are ordered by pk."""
        if page < 1 or per_page < 1:
            raise FieldError("page and per_page must be positive integers")
        total = await self.count()
        start = (page - 1) * per_page
        items = await self._ordered_or_pk()[start : start + per_page]._fetch() if total else []
        return Page(items=items, total=total, page=page, per_page=per_page)

    # -- writes --------------------------------------------------------------------
    def _check_unsliced(self, operation: str) -> None:
        if self._limit is not None or self._offset:
            raise TypeError(f"Cannot {operation} a query once a slice has been taken.")

    def _column_values(self, values: dict[str, Any]) -> dict[str, Any]:
        columns = self._mapper.column_attrs
        unknown = sorted(set(values) - set(columns.keys()))
        if unknown:
            raise FieldError(
                f"Unknown field(s) {', '.join(map(repr, unknown))} for {self.model.__name__}"
            )
        return {name: coerce(columns[name].columns[0], v, name) for name, v in values.items()}

    async def update(self, **values: Any) -> int:
        """Update every matching row in one statement; returns the number of rows."""
        self._check_unsliced("update")
        values = self._column_values(values)
        if "updated_at" in self._mapper.column_attrs and "updated_at" not in values:
            values["updated_at"] = utcnow()
        stmt = (
            update(self.model)
            .where(*self._where)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        async with write(self.session) as session:
            result = await session.execute(stmt)
        return int(getattr(result, "rowcount", 0))

    async def delete(self) -> int:
        """Delete every matching row in one statement (the database cascades)."""
        self._check_unsliced("delete")
        stmt = delete(self.model).where(*self._where).execution_options(synchronize_session=False)
        async with write(self.session) as session:
            result = await session.execute(stmt)
        return int(getattr(result, "rowcount", 0))
