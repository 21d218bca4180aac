"""Alembic driven from code: manage.py commands and migrate-on-startup in development."""

from __future__ import annotations

from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from fastmango.conf import BaseSettings
from fastmango.db import Database


def migration_settings(settings: BaseSettings) -> BaseSettings:
    """The settings for a migration run: no per-statement time limit.

    A request's limit (DATABASE_COMMAND_TIMEOUT) would cut off a long migration step,
    such as an index built on a big table.
    """
    return settings.model_copy(update={"database_command_timeout": None})


def alembic_config(settings: BaseSettings) -> Config:
    config = Config(str(settings.base_dir / "alembic.ini"))
    config.set_main_option("script_location", str(settings.base_dir / "alembic"))
    config.attributes["database_url"] = settings.database_url
    config.attributes["installed_apps"] = settings.installed_apps
    return config


async def _run(database: Database, config: Config, action: str, revision: str) -> None:
    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        if action == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)

    async with database.engine.begin() as connection:
        await connection.run_sync(run)


async def upgrade(database: Database, settings: BaseSettings, revision: str = "head") -> None:
    """Apply migrations up to `revision` (head by default)."""
    await _run(database, alembic_config(settings), "upgrade", revision)


async def downgrade(database: Database, settings: BaseSettings, revision: str) -> None:
    """Revert migrations down to `revision` ('base' reverts everything)."""
    await _run(database, alembic_config(settings), "downgrade", revision)


@dataclass(frozen=True)
class MigrationState:
    revision: str
    message: str
    applied: bool


async def states(database: Database, settings: BaseSettings) -> list[MigrationState]:
    """Every migration, oldest first, and whether the database has it."""
    script = ScriptDirectory.from_config(alembic_config(settings))

    def current_heads(connection: Connection) -> tuple[str, ...]:
        return MigrationContext.configure(connection).get_current_heads()

    async with database.engine.connect() as connection:
        heads = await connection.run_sync(current_heads)
    applied: set[str] = set()
    for head in heads:
        applied.update(rev.revision for rev in script.iterate_revisions(head, "base"))
    revisions = list(script.walk_revisions("base", "heads"))
    revisions.reverse()
    return [
        MigrationState(rev.revision, rev.doc or "", rev.revision in applied) for rev in revisions
    ]


def next_revision_id(config: Config) -> str:
    """`0002` after `0001`: numbered like Django's migrations, easy to read in order."""
    numbers = [
        int(rev.revision)
        for rev in ScriptDirectory.from_config(config).walk_revisions()
        if rev.revision.isdigit()
    ]
    return f"{max(numbers, default=0) + 1:04d}"


def make(settings: BaseSettings, message: str, *, empty: bool = False) -> str | None:
    """Autogenerate a revision; returns its path, or None when nothing changed."""
    config = alembic_config(settings)
    config.attributes["autogenerate"] = not empty
    script = command.revision(
        config, message=message, autogenerate=not empty, rev_id=next_revision_id(config)
    )
    if config.attributes.get("no_changes") or script is None:
        return None
    scripts = script if isinstance(script, list) else [script]
    return ", ".join(s.path for s in scripts if s is not None)
