"""Errors of the Django-style ORM layer."""

from __future__ import annotations

from fastmango.errors import ValidationError


class FieldError(ValidationError):
    """A filter, ordering or values() names a field or lookup the model does not have.

    It is a `ValidationError`, so when the name came from a query string the
    request gets a 400 naming it, never a 500.
    """

    code = "invalid_field"


class ObjectDoesNotExist(Exception):
    """Base of every `Model.DoesNotExist`."""


class MultipleObjectsReturned(Exception):
    """Base of every `Model.MultipleObjectsReturned`."""


class NoSessionError(RuntimeError):
    """A query ran with no database session in scope."""

    def __init__(self) -> None:
        super().__init__(
            "No database session in scope: inside a request one is opened for you; in a "
            "script use `async with db.session():` or pass one with `.using(session)`."
        )
