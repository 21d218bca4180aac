"""`check [--deploy]`: Django-style system checks, reported like Django reports them."""

from __future__ import annotations

import asyncio
import enum
import os
from typing import Annotated

import pydantic
import typer
from sqlalchemy.exc import ArgumentError, DBAPIError

from fastmango import migrations
from fastmango.checks import CheckMessage, Level, deploy_checks
from fastmango.conf import BaseSettings, get_settings
from fastmango.db import Database
from fastmango.management.common import run_with_database, settings_error

PING_TIMEOUT_SECONDS = 5.0


class FailLevel(enum.StrEnum):
    ERROR = "ERROR"
    WARNING = "WARNING"


async def database_checks(database: Database, settings: BaseSettings) -> list[CheckMessage]:
    """The database answers and has every migration applied."""
    try:
        await asyncio.wait_for(database.ping(), timeout=PING_TIMEOUT_SECONDS)
    except (TimeoutError, DBAPIError, OSError) as exc:
        # The class name only: driver messages can carry host names.
        return [
            CheckMessage(
                "database.E001",
                Level.ERROR,
                f"The database at {settings.safe_database_url} does not answer "
                f"({type(exc).__name__}).",
                "Check DATABASE_URL and that the database server is running.",
            )
        ]
    pending = [s.revision for s in await migrations.states(database, settings) if not s.applied]
    if not pending:
        return []
    return [
        CheckMessage(
            "database.W002",
            Level.WARNING,
            f"{len(pending)} migration(s) not applied: {', '.join(pending)}.",
            "Run: python manage.py migrate",
        )
    ]


def storage_checks(settings: BaseSettings) -> list[CheckMessage]:
    """Uploads can be written: MEDIA_ROOT (or the folder that will hold it) is writable."""
    if settings.storage_backend != "local":
        return []
    existing = settings.media_root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return []
    return [
        CheckMessage(
            "storage.E001",
            Level.ERROR,
            f"MEDIA_ROOT {settings.media_root} is not writable.",
            "Give the app's user write access to it, or set MEDIA_ROOT elsewhere.",
        )
    ]


def run_checks(settings: BaseSettings, *, deploy: bool) -> list[CheckMessage]:
    """Every message `check` reports, without duplicates, errors first."""
    messages = run_with_database(settings, lambda database: database_checks(database, settings))
    messages += storage_checks(settings)
    if deploy:
        messages += deploy_checks(settings)
    unique = {message.id: message for message in messages}
    return sorted(unique.values(), key=lambda m: (-m.level, m.id))


def report(messages: list[CheckMessage]) -> str:
    """Django's layout: ERRORS, WARNINGS and INFOS sections, then a count."""
    if not messages:
        return "System check identified no issues."
    sections = []
    for level, title in (
        (Level.ERROR, "ERRORS"),
        (Level.WARNING, "WARNINGS"),
        (Level.INFO, "INFOS"),
    ):
        found = [str(m) for m in messages if m.level == level]
        if found:
            sections.append(f"{title}:\n" + "\n".join(found))
    count = len(messages)
    return (
        "System check identified some issues:\n\n"
        + "\n\n".join(sections)
        + f"\n\nSystem check identified {count} issue{'s' if count != 1 else ''}."
    )


def check(
    deploy: Annotated[
        bool, typer.Option("--deploy", help="Also check the settings for a production deploy.")
    ] = False,
    fail_level: Annotated[
        FailLevel,
        typer.Option(
            case_sensitive=False, help="Exit with code 1 for messages at or above this level."
        ),
    ] = FailLevel.ERROR,
) -> None:
    """Inspect the settings, database, migrations and storage for common problems."""
    try:
        settings = get_settings()
    except (pydantic.ValidationError, ArgumentError) as exc:
        messages = [CheckMessage("settings.E001", Level.ERROR, settings_error(exc))]
    else:
        messages = run_checks(settings, deploy=deploy)
    typer.echo(report(messages))  # plain: keep the tab before HINT, as Django prints it
    threshold = Level[fail_level.value]
    if any(message.level >= threshold for message in messages):
        raise typer.Exit(code=1)
