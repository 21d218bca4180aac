"""The base of every table: SQLModel plus Django's `objects`, `save()` and `DoesNotExist`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Self

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from fastmango import signals
from fastmango.orm import exceptions, rules
from fastmango.orm.fields import UTCDateTime, utcnow
from fastmango.orm.manager import ManagerDescriptor
from fastmango.orm.scope import current_session, write

# Named constraints, so migrations can drop them (SQLite batch mode needs the names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


class Model(SQLModel):
    """Base class for tables: `class Product(Model, table=True)`."""

    objects: ClassVar[ManagerDescriptor] = ManagerDescriptor()
    DoesNotExist: ClassVar[type[exceptions.ObjectDoesNotExist]] = exceptions.ObjectDoesNotExist
    MultipleObjectsReturned: ClassVar[type[exceptions.MultipleObjectsReturned]] = (
        exceptions.MultipleObjectsReturned
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Each model gets its own exception classes, as in Django, so
        # `except Product.DoesNotExist` does not swallow a missing Webinar.
        for name, base in (
            ("DoesNotExist", exceptions.ObjectDoesNotExist),
            ("MultipleObjectsReturned", exceptions.MultipleObjectsReturned),
        ):
            error = type(name, (base,), {"__module__": cls.__module__})
            error.__qualname__ = f"{cls.__qualname__}.{name}"
            setattr(cls, name, error)

    # The column that names a row: `str(row)`, the admin's select boxes and filters.
    label_field: ClassVar[str | None] = None

    def __str__(self) -> str:
        """Django's: the row's name; `Product object (3)` when the model names none."""
        # Loaded values only (never a lazy load, which is an error under asyncio).
        loaded = self.__dict__
        label = loaded.get(self.label_field) if self.label_field else None
        if label is not None:
            return str(label)
        return f"{type(self).__name__} object ({loaded.get('id')})"

    def __repr_args__(self) -> Sequence[tuple[str | None, Any]]:
        # repr(), str() and rich's pretty printer all read these: secrets stay out.
        return [
            (name, value)
            for name, value in super().__repr_args__()
            if name is None or not rules.is_secret_field(name)
        ]

    @property
    def pk(self) -> Any:
        return getattr(self, "id", None)

    async def save(self, *, session: AsyncSession | None = None) -> Self:
        """Insert or update this row (commits unless inside `atomic()`).

        Sends pre_save and post_save (fastmango.signals), `created` True for an insert.
        """
        session = session if session is not None else current_session()
        # No identity key yet (never loaded or flushed): this save is an INSERT.
        state = sa_inspect(self)
        created = state is not None and state.key is None
        await signals.pre_save.send(type(self), instance=self, created=created)
        rules.check_instance(self)
        if "updated_at" in type(self).model_fields and self.pk is not None:
            self.updated_at = utcnow()
        async with write(session):
            session.add(self)
        await signals.post_save.send(type(self), instance=self, created=created)
        return self

    async def delete(self, *, session: AsyncSession | None = None) -> None:
        """Delete this row (the database cascades to dependent rows, without signals)."""
        session = session if session is not None else current_session()
        await signals.pre_delete.send(type(self), instance=self)
        async with write(session):
            await session.delete(self)
        await signals.post_delete.send(type(self), instance=self)

    async def refresh(self, *, session: AsyncSession | None = None) -> Self:
        """Reload every column from the database."""
        session = session if session is not None else current_session()
        await session.refresh(self)
        return self


rules.install(Model)


def instance_info(instance: object) -> dict[str, Any]:
    """SQLAlchemy's per-instance scratch dict, for values that are not columns."""
    state = sa_inspect(instance)
    assert state is not None
    info: dict[str, Any] = state.info
    return info


class TimestampedModel(Model):
    """A table with `created_at` and `updated_at` (set by `save()`), both in UTC."""

    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
