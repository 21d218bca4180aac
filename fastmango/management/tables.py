"""The installed apps' tables for dumpdata, loaddata and flush: labels, order, values.

A table's label is Django's `app_label.modelname` ("accounts.user"); link tables and
tables with no model class are known by their table name too. Values are turned into
JSON and back without loss: Decimals as strings, datetimes in ISO 8601 with their
offset, enums by value, bytes in base64, vectors as lists of floats.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import uuid
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Column, Table, inspect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

from fastmango.apps import apps
from fastmango.conf import BaseSettings
from fastmango.orm import Model


class FixtureError(ValueError):
    """A fixture that cannot be loaded: the message says which file, object and field."""


def _model_classes(base: type[Any] = SQLModel) -> Iterator[type[Any]]:
    for cls in base.__subclasses__():
        if isinstance(getattr(cls, "__table__", None), Table):
            yield cls
        yield from _model_classes(cls)


def _app_label(module: str) -> str:
    for config in apps:
        if module in set(config.module_paths()) or (
            config.name and module.startswith(f"{config.name}.")
        ):
            return config.label
    return module.partition(".")[0]


class Registry:
    """Every table of the installed apps, foreign keys first, with its label."""

    def __init__(self, settings: BaseSettings) -> None:
        apps.populate(settings.installed_apps)
        self.tables: list[Table] = list(Model.metadata.sorted_tables)
        self.labels: dict[str, str] = {}  # table name -> label
        for cls in _model_classes():
            table: Table = cls.__table__
            if table.metadata is Model.metadata and table.name not in self.labels:
                self.labels[table.name] = f"{_app_label(cls.__module__)}.{cls.__name__.lower()}"
        self._by_name = {table.name: table for table in self.tables}
        self._by_label = {label: self._by_name[name] for name, label in self.labels.items()}

    def label(self, table: Table) -> str:
        return self.labels.get(table.name, table.name)

    def find(self, name: str) -> Table | None:
        """The table a fixture's "model" names: a label or a table name."""
        table = self._by_label.get(name.lower())
        return table if table is not None else self._by_name.get(name)

    def select(self, names: Iterable[str]) -> list[Table]:
        """The tables `names` pick (app labels, app_label.model, table names), in order."""
        wanted: set[str] = set()
        for name in names:
            table = self.find(name)
            if table is not None:
                wanted.add(table.name)
                continue
            in_app = [t for label, t in self._by_label.items() if label.split(".")[0] == name]
            if not in_app:
                known = ", ".join(sorted({label.split(".")[0] for label in self._by_label}))
                raise FixtureError(f"Unknown app or model {name!r}. Installed apps: {known}.")
            wanted.update(table.name for table in in_app)
        return [table for table in self.tables if not wanted or table.name in wanted]


async def existing_tables(connection: AsyncConnection, tables: list[Table]) -> list[Table]:
    """The tables of `tables` the database has (a model added since the last migrate is not)."""
    names = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    return [table for table in tables if table.name in names]


def primary_key(table: Table) -> list[Column[Any]]:
    return list(table.primary_key.columns)


def to_json(value: Any) -> Any:
    """A column's value as JSON, exactly (see the module's docstring)."""
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "tolist"):  # a NumPy vector
        return value.tolist()
    return value


def _python_type(column: Column[Any]) -> type[Any] | None:
    try:
        kind: type[Any] = column.type.python_type
    except NotImplementedError:
        return None
    return kind


def from_json(column: Column[Any], value: Any) -> Any:
    """The value to bind for `column` from its JSON form; FixtureError if it is not one."""
    kind = _python_type(column)
    if value is None or kind is None or isinstance(value, list | dict):
        return value
    try:
        if issubclass(kind, enum.Enum):
            return kind(value)
        if kind is Decimal:
            return Decimal(str(value))
        if kind is dt.datetime:
            return dt.datetime.fromisoformat(value)
        if kind is dt.date:
            return dt.date.fromisoformat(value)
        if kind is dt.time:
            return dt.time.fromisoformat(value)
        if kind is uuid.UUID:
            return uuid.UUID(str(value))
        if kind is bytes:
            return base64.b64decode(value, validate=True)
    except (ValueError, TypeError, InvalidOperation) as exc:
        raise FixtureError(f"not a valid {kind.__name__}") from exc
    return value
