"""What a project's `alembic/env.py` runs: one call, Django's migrations feel.

    # alembic/env.py
    from fastmango import conf
    from fastmango.migrations_env import run_env
    from settings import get_settings

    conf.configure(get_settings)
    run_env()

Every installed app's models are loaded (autogenerate sees every table), SQLite alters
tables in batch mode, an autogenerate with no changes writes no file (as Django's
makemigrations), and the URL comes from the settings or from the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from alembic import context
from alembic.config import Config
from alembic.operations.ops import MigrationScript
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from fastmango import conf
from fastmango.apps import apps
from fastmango.orm import Model

# `include_object` for a dialect name (Alembic's hook; None includes everything).
IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]


def _skip_empty(config: Config) -> Callable[[Any, Any, list[MigrationScript]], None]:
    def skip(_context: Any, _revision: Any, directives: list[MigrationScript]) -> None:
        # Like Django's makemigrations: no file when nothing changed.
        if getattr(config.cmd_opts, "autogenerate", False) or config.attributes.get("autogenerate"):
            script = directives[0]
            if script.upgrade_ops is not None and script.upgrade_ops.is_empty():
                directives[:] = []
                config.attributes["no_changes"] = True

    return skip


def run_env(include_object: Callable[[str], IncludeObject] | None = None) -> None:
    """Run the migrations Alembic asked for (online, offline, or on the caller's connection)."""
    config = context.config
    # The caller's settings (manage.py, the app) come as attributes; the alembic command
    # line reads the project's.
    given = config.attributes
    apps.populate(given.get("installed_apps") or conf.get_settings().installed_apps)
    url: str = given.get("database_url") or conf.get_settings().database_url

    def configure(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=Model.metadata,
            render_as_batch=True,
            compare_type=True,
            include_object=include_object(connection.dialect.name) if include_object else None,
            process_revision_directives=_skip_empty(config),
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_online() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(configure)
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(
            url=url,
            target_metadata=Model.metadata,
            literal_binds=True,
            render_as_batch=True,
            dialect_opts={"paramstyle": "named"},
        )
        with context.begin_transaction():
            context.run_migrations()
    elif (connection := config.attributes.get("connection")) is not None:
        # Called from the running app (startup migrations) with a connection of its engine.
        configure(connection)
    else:
        asyncio.run(run_online())
