"""The audit trail: who created, changed or deleted what, and which fields changed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import inspect

from fastmango.accounts.models import AuditAction, AuditLog, User
from fastmango.orm import SECRET_FIELDS as SECRET_FIELDS  # re-exported: one list for the admin too
from fastmango.orm import is_secret_field


def _plain(value: Any) -> Any:
    """JSON-friendly: decimals and datetimes as strings, enums as their values."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def snapshot(obj: Any) -> dict[str, Any]:
    """Column values of a row, secrets left out, ready to diff or store."""
    mapper = inspect(type(obj))
    return {
        attr.key: _plain(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if not is_secret_field(attr.key)
    }


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{"price": ["1.00", "2.00"]}` for every field whose value changed."""
    return {
        key: [before.get(key), value]
        for key, value in after.items()
        if before.get(key) != value and key not in {"updated_at"}
    }


class AuditService:
    """Writes AuditLog rows in the caller's transaction (commit with the change itself)."""

    async def record(
        self,
        actor: User | None,
        action: AuditAction,
        obj: Any,
        changes: dict[str, Any] | None = None,
    ) -> AuditLog:
        identity = inspect(obj).identity
        object_id = ",".join(str(part) for part in identity) if identity else ""
        entry: AuditLog = await AuditLog.objects.create(
            actor_id=actor.id if actor is not None else None,
            actor_email=actor.email if actor is not None else "",
            action=action,
            object_type=type(obj).__name__,
            object_id=object_id,
            changes=changes or {},
        )
        return entry

    async def created(self, actor: User | None, obj: Any) -> AuditLog:
        return await self.record(
            actor, AuditAction.CREATE, obj, {k: [None, v] for k, v in snapshot(obj).items()}
        )

    async def changed(
        self, actor: User | None, obj: Any, before: dict[str, Any]
    ) -> AuditLog | None:
        """Record the fields that differ from `before` (a `snapshot`); nothing if none did."""
        changes = diff(before, snapshot(obj))
        if not changes:
            return None
        return await self.record(actor, AuditAction.UPDATE, obj, changes)

    async def deleted(self, actor: User | None, obj: Any, before: dict[str, Any]) -> AuditLog:
        return await self.record(
            actor, AuditAction.DELETE, obj, {k: [v, None] for k, v in before.items()}
        )
