"""`migrate`, `makemigrations` and `showmigrations`: Alembic with Django's words."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import inspect

from fastmango import migrations
from fastmango.accounts.account_service import AccountService
from fastmango.accounts.models import Permission
from fastmango.apps import apps
from fastmango.conf import BaseSettings
from fastmango.db import Database
from fastmango.management.common import (
    console,
    fail,
    info,
    load_settings,
    reported_errors,
    run_with_database,
    success,
)
from fastmango.migrations import MigrationState

DOWN_TO_NOTHING = {"zero", "base"}


def _label(state: MigrationState) -> str:
    return f"{state.revision} {state.message}".strip()


def _direction(target: str, states: list[MigrationState]) -> str:
    """'up' or 'down': Django's `migrate TARGET` moves the database to TARGET's state."""
    if target in DOWN_TO_NOTHING or re.fullmatch(r"-\d+", target):
        return "down"
    if target in {"head", "heads"} or re.fullmatch(r"\+\d+", target):
        return "up"
    state = next((s for s in states if s.revision == target), None)
    if state is None:
        known = ", ".join(s.revision for s in states) or "none"
        fail(f"Unknown migration {target!r}. Known migrations: {known}.")
    return "down" if state.applied else "up"


async def _migrate(database: Database, settings: BaseSettings, target: str) -> None:
    before = await migrations.states(database, settings)
    direction = _direction(target, before)
    info("Running migrations:")
    pending = [s for s in before if not s.applied]
    if target in {"head", "heads"}:
        # One revision at a time, so the line is printed before a slow migration runs.
        for state in pending:
            console.print(f"  Applying {_label(state)}...", end="", markup=False)
            await migrations.upgrade(database, settings, state.revision)
            success(" OK")
        if not pending:
            info("  No migrations to apply.")
        await _create_permissions(database, settings)
        return
    revision = "base" if target in DOWN_TO_NOTHING else target
    if direction == "up":
        await migrations.upgrade(database, settings, revision)
    else:
        await migrations.downgrade(database, settings, revision)
    after = {s.revision: s.applied for s in await migrations.states(database, settings)}
    applied = [s for s in before if not s.applied and after.get(s.revision)]
    unapplied = [s for s in reversed(before) if s.applied and not after.get(s.revision)]
    for state in applied:
        info(f"  Applying {_label(state)}... OK")
    for state in unapplied:
        info(f"  Unapplying {_label(state)}... OK")
    if not applied and not unapplied:
        info("  No migrations to apply.")


async def _create_permissions(database: Database, settings: BaseSettings) -> None:
    """Django's post-migrate step: every model has its four permissions, so staff can be
    granted `post.change` for a model added today."""
    apps.populate(settings.installed_apps)
    async with database.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    if Permission.__tablename__ not in tables:
        return  # a new project before its first migration
    async with database.session():
        created = await AccountService().ensure_permissions()
    if created:
        info(f"  Created {created} permission(s) for new models.")


def migrate(
    target: Annotated[
        str,
        typer.Argument(
            help="'head' (default), a revision id, 'zero' to revert everything, "
            "or a relative step like -1 or +1."
        ),
    ] = "head",
) -> None:
    """Apply (or revert) database migrations."""
    settings = migrations.migration_settings(load_settings())
    run_with_database(settings, lambda database: _migrate(database, settings, target))


def _relative(paths: str, base_dir: Path) -> str:
    shown = []
    for raw in paths.split(", "):
        path = Path(raw)
        shown.append(str(path.relative_to(base_dir)) if path.is_relative_to(base_dir) else raw)
    return ", ".join(shown)


def makemigrations(
    message: Annotated[
        str, typer.Option("--message", "-m", help="What the migration does (names the file).")
    ] = "auto",
    empty: Annotated[
        bool, typer.Option("--empty", help="Write an empty migration to fill in by hand.")
    ] = False,
) -> None:
    """Write a new migration from the changes to models.py (Alembic autogenerate)."""
    settings = load_settings()
    with reported_errors(settings):
        path = migrations.make(settings, message, empty=empty)
    if path is None:
        info("No changes detected")
        return
    success(f"Created migration {_relative(path, settings.base_dir)}")
    info("Review it, then apply it with: python manage.py migrate")


async def _show(database: Database, settings: BaseSettings) -> None:
    states = await migrations.states(database, settings)
    info("alembic/versions")
    if not states:
        info(" (no migrations)")
    for state in states:
        mark = "X" if state.applied else " "
        info(f" [{mark}] {_label(state)}")


def showmigrations() -> None:
    """List every migration: [X] applied, [ ] not applied yet."""
    settings = load_settings()
    run_with_database(settings, lambda database: _show(database, settings))
