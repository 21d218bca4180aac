"""The tables. Rules that keep data sound are constraints in the database, not only here.

(No `from __future__ import annotations`: SQLModel reads relationship annotations at
class creation.)
"""

import enum
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import field_validator
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy import inspect as sa_inspect
from sqlmodel import Field, Relationship, SQLModel

from orm import DecimalType, Model, UTCDateTime, VectorType, utcnow
from storage import MAX_NAME_LENGTH, StorageName, check_name

# Relationships never load lazily: under asyncio an implicit load is an error, so
# say it clearly (use select_related/prefetch_related instead).
NO_LAZY: dict[str, Any] = {"lazy": "raise_on_sql"}


def _enum(enum_class: type[enum.Enum], name: str) -> SAEnum:
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


def instance_info(instance: object) -> dict[str, Any]:
    """SQLAlchemy's per-instance scratch dict, for values that are not columns."""
    state = sa_inspect(instance)
    assert state is not None
    info: dict[str, Any] = state.info
    return info


class TimestampedModel(Model):
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# -- accounts -------------------------------------------------------------------------


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
    __table_args__ = (CheckConstraint("codename LIKE '%_._%'", name="codename_format"),)

    id: int | None = Field(default=None, primary_key=True)
    codename: str = Field(max_length=100, unique=True)
    name: str = Field(max_length=255)

    groups: list["Group"] = Relationship(
        back_populates="permissions", link_model=GroupPermissionLink, sa_relationship_kwargs=NO_LAZY
    )


class Group(Model, table=True):
    __tablename__ = "groups"

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


# -- catalogue ------------------------------------------------------------------------


class Product(TimestampedModel, table=True):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True, min_length=1)
    description: str = Field(default="", sa_type=Text)
    price: Decimal = Field(sa_type=DecimalType(10, 2), ge=0, max_digits=10, decimal_places=2)
    category: str = Field(max_length=100, index=True)
    in_stock: bool = Field(default=True, index=True)


# -- webinars -------------------------------------------------------------------------


class RegistrantStatus(enum.StrEnum):
    REGISTERED = "registered"
    CONFIRMED = "confirmed"
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class Webinar(TimestampedModel, table=True):
    __tablename__ = "webinars"
    __table_args__ = (CheckConstraint("duration_minutes > 0", name="duration_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200, index=True, min_length=1)
    description: str = Field(default="", sa_type=Text)
    starts_at: datetime = Field(sa_type=UTCDateTime, index=True)
    duration_minutes: int = Field(default=60, gt=0)
    host: str = Field(max_length=200)

    registrants: list["WebinarRegistrant"] = Relationship(
        back_populates="webinar",
        sa_relationship_kwargs={**NO_LAZY, "passive_deletes": True},
    )


class WebinarRegistrant(Model, table=True):
    __tablename__ = "webinar_registrants"
    __table_args__ = (UniqueConstraint("webinar_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    webinar_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("webinars.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    name: str = Field(max_length=200, min_length=1)
    email: str = Field(max_length=320, index=True)
    company: str = Field(default="", max_length=200)
    status: RegistrantStatus = Field(
        default=RegistrantStatus.REGISTERED,
        sa_type=_enum(RegistrantStatus, "registrant_status"),
        nullable=False,
        index=True,
    )
    notes: str = Field(default="", sa_type=Text)
    # A file field: a storage key (storage.py), never a path or a URL. The column type
    # refuses anything else on every write; the validator makes it a field error first.
    photo: str | None = Field(default=None, max_length=MAX_NAME_LENGTH, sa_type=StorageName)
    registered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    webinar: Webinar = Relationship(back_populates="registrants", sa_relationship_kwargs=NO_LAZY)

    @field_validator("photo")
    @classmethod
    def _photo_is_a_storage_name(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value)


# -- audit ----------------------------------------------------------------------------


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
    action: AuditAction = Field(sa_type=_enum(AuditAction, "audit_action"), nullable=False)
    object_type: str = Field(max_length=100, index=True)
    object_id: str = Field(max_length=64)
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)

    actor: User | None = Relationship(sa_relationship_kwargs=NO_LAZY)


# -- AI: semantic search and chat -------------------------------------------------------

EMBEDDING_DIMENSIONS = 384  # all-MiniLM-L6-v2; an OpenAI-compatible model must match
HNSW_INDEX = "ix_product_embeddings_embedding_hnsw"
POSTGRESQL_ONLY_INDEXES = frozenset({HNSW_INDEX})


def schema_filter(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's `include_object` for `dialect`: PostgreSQL-only indexes are not
    "missing" on SQLite (autogenerate would otherwise add them there)."""

    def include(_obj: Any, name: str | None, type_: str, _reflected: bool, _to: Any) -> bool:
        return not (type_ == "index" and name in POSTGRESQL_ONLY_INDEXES) or (
            dialect == "postgresql"
        )

    return include


class ProductEmbedding(Model, table=True):
    """A product's meaning as a vector, kept apart from the product row.

    `content_hash` is a digest of the text that was embedded (and the model): a product
    whose text changed has a stale hash, which is how `manage.py embed` resumes.
    The HNSW cosine index exists on PostgreSQL only (the migration makes it); SQLite
    ranks the vectors in NumPy.
    """

    __tablename__ = "product_embeddings"
    __table_args__ = (
        # Nearest neighbours by cosine distance without a scan; PostgreSQL only.
        Index(
            HNSW_INDEX,
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    product_id: int = Field(
        sa_column=Column(Integer, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    )
    embedding: Any = Field(sa_type=VectorType(EMBEDDING_DIMENSIONS), nullable=False)
    model: str = Field(max_length=200)
    content_hash: str = Field(max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class MessageRole(enum.StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class Conversation(TimestampedModel, table=True):
    """One chat thread of one user; its messages are sent again (trimmed) with each turn."""

    __tablename__ = "conversations"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    title: str = Field(default="New conversation", max_length=200)


class Message(Model, table=True):
    __tablename__ = "messages"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    role: MessageRole = Field(sa_type=_enum(MessageRole, "message_role"), nullable=False)
    content: str = Field(default="", sa_type=Text)
    # An assistant answer that was stopped or failed part-way keeps what arrived, marked.
    complete: bool = Field(default=True)
    error: str = Field(default="", max_length=500)
    # The catalogue products retrieved for an answer: [{"id": 12, "name": "Desk lamp"}].
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )
