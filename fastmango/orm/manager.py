"""`Model.objects`: a QuerySet over the whole table plus the ways to create rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import insert, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from fastmango.orm.exceptions import FieldError
from fastmango.orm.lookups import Q
from fastmango.orm.query import QuerySet
from fastmango.orm.rules import check_rows, check_text
from fastmango.orm.scope import write
from fastmango.signals import post_save, pre_save

if TYPE_CHECKING:
    from fastmango.orm.model import Model

M = TypeVar("M", bound="Model")
MAX_PARAMETERS = 30_000
_M = TypeVar("_M", bound="Model")


class Manager(QuerySet[M]):
    """The entry point of every query: `Product.objects.filter(...)`.

    Writes commit at once unless inside `atomic()` (see orm.scope).
    """

    def _build(self, values: dict[str, Any]) -> M:
        mapper = inspect(self.model)
        relations = {k: v for k, v in values.items() if k in mapper.relationships}
        columns = {k: v for k, v in values.items() if k not in relations}
        for name, value in relations.items():
            relation = mapper.relationships[name]
            target = relation.mapper.class_
            if not relation.uselist and value is not None and not isinstance(value, target):
                raise FieldError(
                    f"{self.model.__name__}.{name} must be a {target.__name__}, "
                    f"not {type(value).__name__}"
                )
            if relation.direction.name == "MANYTOONE" and value is not None:
                # The key columns too: model_validate requires them (and Django sets them).
                for local, remote in relation.local_remote_pairs or ():
                    related = getattr(value, relation.mapper.get_property_by_column(remote).key)
                    if related is not None:
                        columns.setdefault(mapper.get_property_by_column(local).key, related)
        columns = self._foreign_keys(columns)
        unknown = sorted(set(columns) - set(mapper.column_attrs.keys()))
        if unknown:
            raise FieldError(
                f"Unknown field(s) {', '.join(map(repr, unknown))} for {self.model.__name__}"
            )
        # model_validate checks types and runs validators; table models skip that on __init__.
        check_text(self.model, columns)  # before the session sees it: no rollback needed
        instance: M = self.model.model_validate(columns)
        for name, value in relations.items():
            setattr(instance, name, value)
        return instance

    def _foreign_keys(self, columns: dict[str, Any]) -> dict[str, Any]:
        """Django's `author=user` for a model with only the column `author_id`: the row's key."""
        mapper = inspect(self.model)
        resolved = dict(columns)
        for name, value in columns.items():
            key = f"{name}_id"
            if name in mapper.column_attrs or key not in mapper.column_attrs:
                continue
            foreign_keys = list(mapper.columns[key].foreign_keys)
            if len(foreign_keys) != 1 or key in columns:
                continue
            del resolved[name]
            if value is None:
                resolved[key] = None
                continue
            referenced = foreign_keys[0].column
            if getattr(type(value), "__table__", None) is not referenced.table:
                raise FieldError(
                    f"{self.model.__name__}.{name} must be a row of {referenced.table.name!r}, "
                    f"not {type(value).__name__}"
                )
            target = inspect(type(value)).get_property_by_column(referenced).key
            resolved[key] = getattr(value, target)
            if resolved[key] is None:
                raise FieldError(f"{self.model.__name__}.{name}: save the related row first")
        return resolved

    async def create(self, **values: Any) -> M:
        """Validate, insert and return a new row (sending pre_save and post_save)."""
        instance = self._build(values)
        await pre_save.send(self.model, instance=instance, created=True)
        async with write(self.session) as session:
            session.add(instance)
        await post_save.send(self.model, instance=instance, created=True)
        return instance

    async def bulk_create(self, instances: Iterable[M], batch_size: int = 500) -> list[M]:
        """Insert many rows, one multi-row INSERT ... RETURNING per batch.

        Primary keys are set on the objects, which join the session as persistent
        rows. (The ORM's flush would send one INSERT per row on SQLite, where it
        cannot rely on RETURNING order; like Django, we rely on it for a single
        multi-row VALUES statement, which both databases return in order.)
        As in Django, no pre_save or post_save signals are sent.
        """
        created = list(instances)
        mapper = inspect(self.model)
        (pk,) = mapper.primary_key
        pk_key = mapper.get_property_by_column(pk).key
        if any(getattr(obj, pk_key) is not None for obj in created):
            # Explicit keys: nothing to read back, let the unit of work insert them.
            async with write(self.session) as session:
                session.add_all(created)
            return created
        keys = [attr.key for attr in mapper.column_attrs if attr.key != pk_key]
        # Both databases cap bound parameters per statement (SQLite 32766, asyncpg 32767).
        batch_size = max(1, min(batch_size, MAX_PARAMETERS // max(1, len(keys))))
        async with write(self.session) as session:
            for start in range(0, len(created), batch_size):
                batch = created[start : start + batch_size]
                rows = [{key: getattr(obj, key) for key in keys} for obj in batch]
                check_rows(self.model, rows)  # a Core insert: no flush event checks it
                stmt = insert(self.model).values(rows).returning(pk)
                ids = (await session.execute(stmt)).scalars().all()
                for obj, ident in zip(batch, ids, strict=True):
                    setattr(obj, pk_key, ident)
                    make_transient_to_detached(obj)
                    session.add(obj)
        return created

    async def get_or_create(
        self, defaults: dict[str, Any] | None = None, **lookup: Any
    ) -> tuple[M, bool]:
        """The row matching `lookup`, or a new one from `lookup` + `defaults`.

        The insert runs in a savepoint, so losing a race to a concurrent insert of
        the same unique row returns that row instead of failing.
        """
        found = await self.get_or_none(**lookup)
        if found is not None:
            return found, False
        values = {k: v for k, v in lookup.items() if "__" not in k} | (defaults or {})
        instance = self._build(values)
        await pre_save.send(self.model, instance=instance, created=True)
        async with write(self.session) as session:
            try:
                async with session.begin_nested():
                    session.add(instance)
            except IntegrityError:
                found = await self.get_or_none(**lookup)
                if found is None:
                    raise
                return found, False
        await post_save.send(self.model, instance=instance, created=True)
        return instance, True

    async def update_or_create(
        self, defaults: dict[str, Any] | None = None, **lookup: Any
    ) -> tuple[M, bool]:
        """Update the row matching `lookup` with `defaults`, or create it."""
        instance, created = await self.get_or_create(defaults, **lookup)
        if not created and defaults:
            for name, value in self._column_values(defaults).items():
                setattr(instance, name, value)
            await instance.save(session=self.session)
        return instance, created


class ManagerDescriptor:
    """Gives each model class its own `objects` (and refuses access from instances)."""

    def __init__(self, manager_class: type[Manager[Any]] = Manager) -> None:
        self.manager_class = manager_class

    def __get__(self, instance: object | None, owner: type[_M]) -> Manager[_M]:
        if instance is not None:
            raise AttributeError("Manager isn't accessible via model instances")
        return self.manager_class(owner)


__all__ = ["Manager", "ManagerDescriptor", "Q"]
