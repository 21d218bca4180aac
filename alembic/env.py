"""Async Alembic environment. The URL comes from Settings; batch mode keeps SQLite working."""

import asyncio
from typing import Any

import pgvector.sqlalchemy  # noqa: F401  (registers `vector` so reflection knows it)
from alembic import context
from alembic.operations.ops import MigrationScript
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import models
from fastmango.apps import apps
from fastmango.orm import Model
from settings import get_settings

config = context.config
# Every installed app's models, so autogenerate sees every table (Django's way).
apps.populate(config.attributes.get("installed_apps") or get_settings().installed_apps)
target_metadata = Model.metadata


def _database_url() -> str:
    url: str | None = config.attributes.get("database_url")
    return url or get_settings().database_url


def _skip_empty(context_: Any, revision: Any, directives: list[MigrationScript]) -> None:
    # Like Django's makemigrations: no file when nothing changed.
    if getattr(config.cmd_opts, "autogenerate", False) or config.attributes.get("autogenerate"):
        script = directives[0]
        if script.upgrade_ops is not None and script.upgrade_ops.is_empty():
            directives[:] = []
            config.attributes["no_changes"] = True


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=models.schema_filter(connection.dialect.name),
        process_revision_directives=_skip_empty,
    )


def do_run_migrations(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(_database_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
elif (connection := config.attributes.get("connection")) is not None:
    # Called from the running app (startup migrations) with a connection of its engine.
    do_run_migrations(connection)
else:
    asyncio.run(run_async_migrations())
