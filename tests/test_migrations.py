"""Migrations: up from empty, down to base and up again, on both databases; models match."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from fastmango import migrations
from fastmango.db import Database
from fastmango.orm import Model
from main import create_app
from models import schema_filter
from tests.conftest import make_settings

TABLES = {
    "users",
    "groups",
    "permissions",
    "user_groups",
    "group_permissions",
    "user_permissions",
    "products",
    "webinars",
    "webinar_registrants",
    "audit_log",
    "access_tokens",
    "product_embeddings",
    "conversations",
    "messages",
}


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _schema_diff(connection: Connection) -> list[Any]:
    opts = {"compare_type": True, "include_object": schema_filter(connection.dialect.name)}
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, Model.metadata))


async def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    settings = make_settings(empty_database_url)
    database = Database(settings)
    try:
        await migrations.upgrade(database, settings)
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_tables) == TABLES
            # The migrations build exactly what the models describe: autogenerate
            # finds nothing to do on a migrated database.
            assert await connection.run_sync(_schema_diff) == []
            if connection.dialect.name == "postgresql":
                extension = await connection.execute(
                    text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
                )
                assert extension.scalar_one()
        states = await migrations.states(database, settings)
        assert states
        assert all(state.applied for state in states)

        await migrations.downgrade(database, settings, "base")
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_tables) == set()
        assert not any(state.applied for state in await migrations.states(database, settings))

        await migrations.upgrade(database, settings)
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_tables) == TABLES
    finally:
        await database.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_development_app_migrates_sqlite_at_startup(empty_database_url: str) -> None:
    settings = make_settings(empty_database_url, environment="development", migrate_on_startup=None)
    assert settings.should_migrate_on_startup
    app = create_app(settings)
    async with app.router.lifespan_context(app), app.state.db.engine.connect() as connection:
        assert await connection.run_sync(_tables) == TABLES


async def test_test_and_production_apps_do_not_migrate(empty_database_url: str) -> None:
    settings = make_settings(empty_database_url, migrate_on_startup=None)
    assert not settings.should_migrate_on_startup
    app = create_app(settings)
    async with app.router.lifespan_context(app), app.state.db.engine.connect() as connection:
        assert await connection.run_sync(_tables) == set()
