"""How rows are named in the admin: by a field, never by str() (a row's repr shows secrets)."""

from __future__ import annotations

from typing import Any

from sqladmin.forms import ModelConverter
from sqladmin.helpers import get_object_identifier
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import RelationshipProperty

from models import AuditLog, Group, Permission, Product, User, Webinar, WebinarRegistrant

# The field that names a row of each model in lists, details and select boxes.
LABEL_FIELDS: dict[type[Any], str] = {
    User: "email",
    Group: "name",
    Permission: "codename",
    Product: "name",
    Webinar: "title",
    WebinarRegistrant: "email",
    AuditLog: "id",
}


def label_for(obj: Any) -> str:
    field = LABEL_FIELDS.get(type(obj))
    if field is None:
        return f"{type(obj).__name__} #{get_object_identifier(obj)}"
    return str(getattr(obj, field))


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
