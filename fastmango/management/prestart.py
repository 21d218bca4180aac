"""`prestart`: what a deploy runs before the server: wait for the database, migrate, and
create the first superuser from SUPERUSER_EMAIL/SUPERUSER_PASSWORD when both are set.

Safe to run on every start and on several machines at once: migrations run under a
PostgreSQL advisory lock, and an existing superuser is left alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated

import typer
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from fastmango import migrations
from fastmango.accounts.account_service import AccountService, normalize_email
from fastmango.accounts.models import User
from fastmango.conf import BaseSettings
from fastmango.db import Database, DatabaseUnavailable
from fastmango.errors import DomainError
from fastmango.logging_setup import configure_logging
from fastmango.management.common import fail, load_startup_settings, run_with_database

logger = logging.getLogger("fastmango.prestart")
# Any fixed 64-bit number: every instance of this project takes the same lock.
MIGRATION_LOCK = 7_310_488_231_504_018


async def wait_for_database(database: Database, seconds: float) -> None:
    """Return once `SELECT 1` works; DatabaseUnavailable after `seconds`."""
    deadline = time.monotonic() + seconds
    delay = 0.2
    while True:
        try:
            await database.ping()
            return
        except (OSError, DBAPIError) as exc:  # refused, no socket, timed out, starting up
            if time.monotonic() + delay > deadline:
                raise DatabaseUnavailable(
                    f"The database did not answer within {seconds:g} s ({type(exc).__name__})."
                ) from exc
            logger.info("Waiting for the database (%s)...", type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def migrate(database: Database, settings: BaseSettings) -> None:
    """Apply pending migrations; on PostgreSQL one instance at a time."""
    async with database.engine.connect() as lock:
        postgres = database.engine.dialect.name == "postgresql"
        if postgres:
            await lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        try:
            pending = [s for s in await migrations.states(database, settings) if not s.applied]
            for state in pending:
                logger.info("Applying migration %s %s", state.revision, state.message)
                await migrations.upgrade(database, settings, state.revision)
            logger.info("Migrations: %d applied, none pending.", len(pending))
        finally:
            if postgres:
                await lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})


async def ensure_superuser(
    database: Database, settings: BaseSettings, email: str, password: str
) -> None:
    """Create the superuser, unless a user with this email exists (then nothing changes)."""
    accounts = AccountService(password_min_length=settings.password_min_length)
    async with database.session():
        if await User.objects.filter(email=email).exists():
            logger.info("User %s already exists; left unchanged.", email)
            return
        await accounts.create_user(
            email,
            password,
            is_superuser=True,
            is_staff=True,
            is_active=True,
            is_verified=True,
        )
    logger.info("Superuser %s created.", email)


def _superuser_credentials(settings: BaseSettings) -> tuple[str, str] | None:
    email = settings.superuser_email or ""
    password = settings.superuser_password.get_secret_value() if settings.superuser_password else ""
    if not email and not password:
        return None
    if not (email and password):
        fail("Set both SUPERUSER_EMAIL and SUPERUSER_PASSWORD, or neither.")
    # Checked before touching the database; the message names the rules, not the password.
    email = normalize_email(email)
    AccountService(password_min_length=settings.password_min_length).check_password(password, email)
    return email, password


def prestart(
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for the database to answer.")
    ] = 60,
) -> None:
    """Wait for the database, apply migrations, create the first superuser (deploy step)."""
    # A deploy step: refused where the app would refuse, before it touches the database.
    settings = migrations.migration_settings(load_startup_settings())
    configure_logging(settings)  # JSON lines in production, like the server's
    try:
        credentials = _superuser_credentials(settings)
    except DomainError as exc:
        fail(f"SUPERUSER_EMAIL/SUPERUSER_PASSWORD not acceptable: {exc.detail}")

    async def work(database: Database) -> None:
        await wait_for_database(database, wait)
        await migrate(database, settings)
        if credentials is not None:
            await ensure_superuser(database, settings, *credentials)

    run_with_database(settings, work)
