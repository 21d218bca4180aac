"""A small Django-style ORM layer on SQLModel/SQLAlchemy: managers, QuerySets, Q, atomic()."""

from fastmango.orm.exceptions import (
    FieldError,
    MultipleObjectsReturned,
    NoSessionError,
    ObjectDoesNotExist,
)
from fastmango.orm.fields import NO_LAZY, DecimalType, UTCDateTime, VectorType, enum_column, utcnow
from fastmango.orm.lookups import Q
from fastmango.orm.manager import Manager, ManagerDescriptor
from fastmango.orm.model import Model, TimestampedModel, instance_info
from fastmango.orm.query import QuerySet
from fastmango.orm.results import Avg, Count, Max, Min, Page, Sum
from fastmango.orm.rules import SECRET_FIELDS, is_secret_field
from fastmango.orm.scope import atomic, current_session, session_scope

__all__ = [
    "NO_LAZY",
    "SECRET_FIELDS",
    "Avg",
    "Count",
    "DecimalType",
    "FieldError",
    "Manager",
    "ManagerDescriptor",
    "Max",
    "Min",
    "Model",
    "MultipleObjectsReturned",
    "NoSessionError",
    "ObjectDoesNotExist",
    "Page",
    "Q",
    "QuerySet",
    "Sum",
    "TimestampedModel",
    "UTCDateTime",
    "VectorType",
    "atomic",
    "current_session",
    "enum_column",
    "instance_info",
    "is_secret_field",
    "session_scope",
    "utcnow",
]
