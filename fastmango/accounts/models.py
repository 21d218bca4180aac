"""The accounts tables: users, groups, Django-style permissions, API tokens, the audit log.

(No `from __future__ import annotations`: SQLModel reads relationship annotations at
class creation.)
"""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Integer
from sqlmodel import Field, Relationship, SQLModel

from fastmango.orm import (
    NO_LAZY,
    Model,
    TimestampedModel,
    UTCDateTime,
    enum_column,
    instance_info,
    utcnow,
)


class UserGroupLink(SQLModel, table=True):
    __tablename__ = "user_groups"

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    group_id: int = Field(
        sa_column=Column(Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    )


class GroupPermissionLink(SQLModel, table=True):
    __tablename__ = "group_permissions"

    group_id: int = Field(
        sa_column=Column(Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    )
    permission_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("permissions.id", ondelete="CASCADE"), primary_key=True
        )
    )


class UserPermissionLink(SQLModel, table=True):
    __tablename__ = "user_permissions"

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    permission_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("permissions.id", ondelete="CASCADE"), primary_key=True
        )
    )


class Permission(Model, table=True):
    """A Django-style codename: `<model>.<view|add|change|delete>`, e.g. `product.change`."""

    __tablename__ = "permissions"
    label_field = "codename"
    __table_args__ = (CheckConstraint("codename LIKE '%_._%'", name="codename_format"),)

    id: int | None = Field(default=None, primary_key=True)
    codename: str = Field(max_length=100, unique=True)
    name: str = Field(max_length=255)

    groups: list["Group"] = Relationship(
        back_populates="permissions", link_model=GroupPermissionLink, sa_relationship_kwargs=NO_LAZY
    )


class Group(Model, table=True):
    __tablename__ = "groups"
    label_field = "name"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=150, unique=True)

    permissions: list[Permission] = Relationship(
        back_populates="groups", link_model=GroupPermissionLink, sa_relationship_kwargs=NO_LAZY
    )
    users: list["User"] = Relationship(
        back_populates="groups", link_model=UserGroupLink, sa_relationship_kwargs=NO_LAZY
    )


class User(TimestampedModel, table=True):
    """An account; the columns fastapi-users expects plus Django's is_staff and full_name."""

    __tablename__ = "users"
    label_field = "email"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    hashed_password: str = Field(max_length=1024)
    full_name: str = Field(default="", max_length=255)
    is_active: bool = True
    is_verified: bool = False
    is_superuser: bool = False
    is_staff: bool = False
    last_login: datetime | None = Field(default=None, sa_type=UTCDateTime)

    groups: list[Group] = Relationship(
        back_populates="users", link_model=UserGroupLink, sa_relationship_kwargs=NO_LAZY
    )
    user_permissions: list[Permission] = Relationship(
        link_model=UserPermissionLink, sa_relationship_kwargs=NO_LAZY
    )

    def has_perm(self, codename: str) -> bool:
        """Django's `user.has_perm("product.change")`: superusers hold every permission.

        Codenames come from `auth.load_permissions`, which the user dependencies call;
        they live on the instance's SQLAlchemy state (pydantic refuses unknown fields).
        """
        if not self.is_active:
            return False
        if self.is_superuser:
            return True
        permissions: set[str] | None = instance_info(self).get("permissions")
        if permissions is None:
            raise RuntimeError("permissions not loaded: await auth.load_permissions(user) first")
        return codename in permissions


class AccessToken(Model, table=True):
    """A revocable login session or API token (fastapi-users' database strategy).

    Only a SHA-256 digest of the token is stored, so a leaked table leaks no sessions.
    """

    __tablename__ = "access_tokens"

    token: str = Field(max_length=64, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )


class AuditAction(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class AuditLog(Model, table=True):
    """Who did what to which object, and which fields changed (`{"price": ["1.00", "2.00"]}`)."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )
    actor_email: str = Field(default="", max_length=320)
    action: AuditAction = Field(sa_type=enum_column(AuditAction, "audit_action"), nullable=False)
    object_type: str = Field(max_length=100, index=True)
    object_id: str = Field(max_length=64)
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)

    actor: User | None = Relationship(sa_relationship_kwargs=NO_LAZY)
