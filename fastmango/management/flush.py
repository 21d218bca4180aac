"""`flush`: empty every table of the installed apps; the schema and alembic_version stay."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import Table, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from fastmango.db import Database
from fastmango.management.common import ask, info, load_settings, run_with_database, success
from fastmango.management.tables import Registry, existing_tables


async def empty_tables(connection: AsyncConnection, tables: list[Table]) -> None:
    """Delete every row of `tables` (dependents first); ids start again from 1."""
    preparer = connection.dialect.identifier_preparer
    names = [preparer.format_table(table) for table in reversed(tables)]
    if not names:
        return
    if connection.dialect.name == "postgresql":
        await connection.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY"))
        return
    for name in names:
        await connection.execute(text(f"DELETE FROM {name}"))  # noqa: S608 (our table names)
    has_sequences = await connection.scalar(
        text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")
    )
    if has_sequences:
        statement = text("DELETE FROM sqlite_sequence WHERE name IN :names")
        await connection.execute(
            statement.bindparams(bindparam("names", expanding=True)),
            {"names": [table.name for table in tables]},
        )


async def _flush(database: Database, tables: list[Table]) -> int:
    async with database.engine.begin() as connection:
        present = await existing_tables(connection, tables)
        await empty_tables(connection, present)
    return len(present)


def flush(
    noinput: Annotated[
        bool, typer.Option("--noinput", "--no-input", help="Do not ask for confirmation.")
    ] = False,
) -> None:
    """Delete every row of every table, keeping the schema and the applied migrations."""
    settings = load_settings()
    registry = Registry(settings)
    if not noinput:
        info(
            f"This will delete ALL data in the database at {settings.safe_database_url}:\n"
            "every table goes back to the empty state it had just after `migrate`."
        )
        if ask("Type 'yes' to continue, or 'no' to cancel", default="no").lower() != "yes":
            info("Flush cancelled.")
            return
    count = run_with_database(settings, lambda database: _flush(database, registry.tables))
    success(f"Emptied {count} table(s).")
