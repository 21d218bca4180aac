"""A small Django-style ORM layer on SQLModel/SQLAlchemy: managers, QuerySets, Q, atomic()."""

from orm.exceptions import FieldError, MultipleObjectsReturned, NoSessionError, ObjectDoesNotExist
from orm.fields import DecimalType, UTCDateTime, VectorType, utcnow
from orm.lookups import Q
from orm.manager import Manager, ManagerDescriptor
from orm.model import Model
from orm.query import QuerySet
from orm.results import Avg, Count, Max, Min, Page, Sum
from orm.rules import SECRET_FIELDS, is_secret_field
from orm.scope import atomic, current_session, session_scope

__all__ = [
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
    "UTCDateTime",
    "VectorType",
    "atomic",
    "current_session",
    "is_secret_field",
    "session_scope",
    "utcnow",
]
