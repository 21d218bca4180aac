"""How rows are named in the admin: by `str(row)` (Model.__str__, Django's way), never the repr."""

from __future__ import annotations

from typing import Any

from sqladmin.forms import ModelConverter
from sqladmin.helpers import get_object_identifier
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import RelationshipProperty

from fastmango.orm import Model


def model_classes() -> list[type[Model]]:
    """Every table of the project and the framework (their rows are named by `label_for`)."""
    return [m.class_ for m in Model._sa_registry.mappers if issubclass(m.class_, Model)]


def label_for(obj: Any) -> str:
    """A row's name in lists, details and select boxes: its `str()` (never its repr)."""
    if isinstance(obj, Model):
        return str(obj)
    return f"{type(obj).__name__} #{get_object_identifier(obj)}"


class LabelledConverter(ModelConverter):
    """sqladmin's form converter with select options named by `label_for`.

    sqladmin labels the options of a relation's select box with str(row); this is
    the one method it calls to build them (pinned sqladmin 0.32, async sessions).
    """

    async def _prepare_select_options(
        self,
        prop: RelationshipProperty[Any],
        session_maker: Any,
    ) -> list[tuple[str, Any]]:
        factory: async_sessionmaker[AsyncSession] = session_maker
        async with factory() as session:
            rows = (await session.execute(select(prop.mapper.class_))).scalars().unique().all()
        return sorted(
            ((str(get_object_identifier(row)), label_for(row)) for row in rows),
            key=lambda option: option[1].lower(),
        )
