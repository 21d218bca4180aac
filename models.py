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
from sqlmodel import Field, Relationship

import fastmango.accounts.models  # noqa: F401 (the users table, which foreign keys here name)
from fastmango.orm import (
    NO_LAZY,
    DecimalType,
    Model,
    TimestampedModel,
    UTCDateTime,
    VectorType,
    enum_column,
    utcnow,
)
from fastmango.storage import MAX_NAME_LENGTH, StorageName, check_name

# -- catalogue ------------------------------------------------------------------------


class Product(TimestampedModel, table=True):
    __tablename__ = "products"
    label_field = "name"
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
    label_field = "title"
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
    label_field = "email"
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
        sa_type=enum_column(RegistrantStatus, "registrant_status"),
        nullable=False,
        index=True,
    )
    notes: str = Field(default="", sa_type=Text)
    # A file field: a storage key (fastmango.storage), never a path or a URL. The column
    # type refuses anything else on every write; the validator makes it a field error first.
    photo: str | None = Field(default=None, max_length=MAX_NAME_LENGTH, sa_type=StorageName)
    registered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    webinar: Webinar = Relationship(back_populates="registrants", sa_relationship_kwargs=NO_LAZY)

    @field_validator("photo")
    @classmethod
    def _photo_is_a_storage_name(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value)


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
    role: MessageRole = Field(sa_type=enum_column(MessageRole, "message_role"), nullable=False)
    content: str = Field(default="", sa_type=Text)
    # An assistant answer that was stopped or failed part-way keeps what arrived, marked.
    complete: bool = Field(default=True)
    error: str = Field(default="", max_length=500)
    # The catalogue products retrieved for an answer: [{"id": 12, "name": "Desk lamp"}].
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )
