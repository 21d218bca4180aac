"""`dumpdata` and `loaddata`: the database's rows as JSON fixtures, Django's shape.

    [{"model": "accounts.user", "pk": 1, "fields": {"email": "...", ...}}, ...]

A table with a composite primary key (a link table) has its key as a list. Password
hashes are dumped (so users can be restored, as Django does): the output is the data,
never a log, and a file written with --output is readable by its owner only.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Integer, Table, and_, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from fastmango.conf import BaseSettings
from fastmango.db import Database
from fastmango.management.common import fail, info, load_settings, run_with_database, success
from fastmango.management.tables import (
    FixtureError,
    Registry,
    existing_tables,
    from_json,
    primary_key,
    to_json,
)
from fastmango.orm import atomic, is_secret_field

Key = tuple[Any, ...]


async def _dump(database: Database, registry: Registry, tables: list[Table]) -> list[Any]:
    objects: list[Any] = []
    async with database.engine.connect() as connection:
        for table in await existing_tables(connection, tables):
            keys = primary_key(table)
            names = {column.key for column in keys}
            rows = await connection.execute(select(table).order_by(*keys))
            for row in rows.mappings():
                pk = [to_json(row[column]) for column in keys]
                fields = {
                    column.key: to_json(row[column])
                    for column in table.columns
                    if column.key not in names
                }
                entry = {"model": registry.label(table), "pk": pk[0] if len(pk) == 1 else pk}
                objects.append(entry | {"fields": fields})
    return objects


def _write_private(path: Path, content: str) -> None:
    """Write `content` to `path`, readable by its owner only (it holds password hashes)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8") as file:
        file.write(content)


def dumpdata(
    labels: Annotated[
        list[str] | None,
        typer.Argument(help="App labels or app_label.Model (default: every installed app)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
    ] = None,
    indent: Annotated[
        int | None, typer.Option("--indent", min=0, help="Pretty-print with N spaces.")
    ] = None,
) -> None:
    """Write the database's rows as JSON fixtures (all installed apps by default)."""
    settings = load_settings()
    try:
        registry = Registry(settings)
        tables = registry.select(labels or [])
    except FixtureError as exc:
        fail(str(exc))
    objects = run_with_database(settings, lambda database: _dump(database, registry, tables))
    content = json.dumps(objects, indent=indent, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(content)
        return
    try:
        _write_private(output, content)
    except OSError as exc:
        fail(f"Cannot write {output}: {exc.strerror or exc}")
    success(f"Dumped {len(objects)} object(s) to {output}")


@dataclass
class TableRows:
    """One table's rows from the fixtures: by primary key (last one wins), and keyless."""

    keyed: dict[Key, dict[str, Any]] = field(default_factory=dict)
    keyless: list[dict[str, Any]] = field(default_factory=list)


def _parse_object(registry: Registry, entry: Any, rows: dict[str, TableRows]) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
        raise FixtureError('not an object with a "model"')
    table = registry.find(entry["model"])
    if table is None:
        raise FixtureError(f"unknown model {entry['model']!r}")
    fields = entry.get("fields", {})
    if not isinstance(fields, dict):
        raise FixtureError('"fields" is not an object')
    keys = primary_key(table)
    values: dict[str, Any] = {}
    pk = entry.get("pk")
    if pk is not None:
        pks = pk if isinstance(pk, list) else [pk]
        if len(pks) != len(keys):
            raise FixtureError(f'"pk" needs {len(keys)} value(s)')
        fields = fields | {column.key: value for column, value in zip(keys, pks, strict=True)}
    for name, value in fields.items():
        column = table.columns.get(name)
        if column is None:
            raise FixtureError(f"{table.name} has no field {name!r}")
        try:
            values[column.key] = from_json(column, value)
        except FixtureError as exc:
            shown = "" if is_secret_field(name) else f" {value!r}"
            raise FixtureError(f"field {name!r}:{shown} {exc}") from None
    found = rows.setdefault(table.name, TableRows())
    if all(column.key in values for column in keys):
        found.keyed[tuple(values[column.key] for column in keys)] = values
    else:
        found.keyless.append(values)


def read_fixtures(registry: Registry, paths: list[Path]) -> dict[str, TableRows]:
    """Every object of every file, checked and converted; FixtureError names the first bad one."""
    rows: dict[str, TableRows] = {}
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise FixtureError(f"Cannot read {path}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FixtureError(f"{path} is not a JSON fixture: {exc}") from None
        if not isinstance(data, list):
            raise FixtureError(f"{path} is not a JSON fixture: expected a list of objects")
        for number, entry in enumerate(data, start=1):
            try:
                _parse_object(registry, entry, rows)
            except FixtureError as exc:
                raise FixtureError(f"{path}, object #{number}: {exc}") from None
    return rows


async def _existing_keys(session: AsyncSession, table: Table) -> set[Key]:
    result = await session.execute(select(*primary_key(table)))
    return {tuple(row) for row in result}


async def _reset_sequences(session: AsyncSession, tables: list[Table]) -> None:
    """PostgreSQL: after explicit ids, the next generated id follows the largest one."""
    preparer = session.get_bind().dialect.identifier_preparer
    for table in tables:
        keys = primary_key(table)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        name, column = preparer.format_table(table), preparer.quote(keys[0].name)
        await session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "  # noqa: S608 (our names)
                f"COALESCE(MAX({column}), 1), MAX({column}) IS NOT NULL) FROM {name}"
            ).bindparams(table=name, column=keys[0].name)
        )


async def _load(database: Database, registry: Registry, rows: dict[str, TableRows]) -> int:
    tables = [table for table in registry.tables if table.name in rows]
    count = 0
    async with database.session() as session, atomic(session):
        for table in tables:
            found = rows[table.name]
            keys = primary_key(table)
            names = {column.key for column in keys}
            existing = await _existing_keys(session, table) if found.keyed else set()
            new = [values for key, values in found.keyed.items() if key not in existing]
            new += found.keyless
            if new:
                await session.execute(insert(table), new)
            for key, values in found.keyed.items():
                changes = {name: value for name, value in values.items() if name not in names}
                if key in existing and changes:
                    match = and_(*(col == value for col, value in zip(keys, key, strict=True)))
                    await session.execute(update(table).where(match).values(changes))
            count += len(found.keyed) + len(found.keyless)
        if session.get_bind().dialect.name == "postgresql":
            await _reset_sequences(session, tables)
    return count


def loaddata(
    files: Annotated[list[Path], typer.Argument(help="JSON fixture files (dumpdata's shape).")],
) -> None:
    """Load JSON fixtures in one transaction, inserting or updating rows by primary key."""
    settings: BaseSettings = load_settings()
    try:
        registry = Registry(settings)
        rows = read_fixtures(registry, files)
    except FixtureError as exc:
        fail(f"{exc} (nothing was loaded)")
    count = run_with_database(settings, lambda database: _load(database, registry, rows))
    info(f"Installed {count} object(s) from {len(files)} fixture(s)")
