"""`createsuperuser` and `changepassword`. Passwords and hashes are never printed."""

from __future__ import annotations

from typing import Annotated

import typer

from fastmango.accounts.account_service import AccountService, normalize_email
from fastmango.accounts.models import User
from fastmango.conf import BaseSettings
from fastmango.db import Database
from fastmango.errors import DomainError
from fastmango.management.common import (
    ask,
    err_console,
    fail,
    info,
    load_settings,
    prompt_new_password,
    run_with_database,
    success,
)


def _accounts(settings: BaseSettings) -> AccountService:
    return AccountService(password_min_length=settings.password_min_length)


async def _create_superuser(
    database: Database, settings: BaseSettings, email: str, password: str, full_name: str
) -> None:
    async with database.session():
        await _accounts(settings).create_user(
            email,
            password,
            full_name=full_name,
            is_superuser=True,
            is_staff=True,
            is_active=True,
            is_verified=True,
        )


async def _email_taken(database: Database, email: str) -> bool:
    async with database.session():
        taken: bool = await User.objects.filter(email=email).exists()
        return taken


def _email_in_use(settings: BaseSettings, email: str) -> bool:
    return run_with_database(settings, lambda database: _email_taken(database, email))


def _noinput_credentials(settings: BaseSettings, email: str | None) -> tuple[str, str]:
    email = email or settings.superuser_email
    password = settings.superuser_password.get_secret_value() if settings.superuser_password else ""
    missing = [
        name
        for name, value in (
            ("SUPERUSER_EMAIL (or --email)", email),
            ("SUPERUSER_PASSWORD", password),
        )
        if not value
    ]
    if missing:
        fail(f"--noinput needs {' and '.join(missing)} to be set.")
    assert email is not None
    try:
        email = normalize_email(email)
    except DomainError as exc:
        fail(f"SUPERUSER_EMAIL is not acceptable: {exc.detail}")
    try:
        _accounts(settings).check_password(password, email)
    except DomainError as exc:
        fail(f"SUPERUSER_PASSWORD is not acceptable: {exc.detail}")
    return email, password


def _prompt_email(settings: BaseSettings, email: str | None) -> str:
    """Ask until the address is valid and free (an --email given is checked once)."""
    while True:
        answer = email or ask("Email address")
        try:
            normalized = normalize_email(answer)
        except DomainError as exc:
            if email:
                fail(exc.detail)
            err_console.print(f"Error: {exc.detail}", markup=False)
            continue
        if not _email_in_use(settings, normalized):
            return normalized
        if email:
            fail(f"A user with the email {normalized} already exists.")
        err_console.print("Error: That email address is already taken.")


def createsuperuser(
    email: Annotated[str | None, typer.Option(help="The superuser's email address.")] = None,
    full_name: Annotated[str | None, typer.Option(help="The superuser's full name.")] = None,
    noinput: Annotated[
        bool,
        typer.Option(
            "--noinput",
            "--no-input",
            help="Ask nothing: read SUPERUSER_EMAIL and SUPERUSER_PASSWORD from the settings.",
        ),
    ] = False,
) -> None:
    """Create a superuser (staff, active, verified) who can do everything."""
    settings = load_settings()
    if noinput:
        address, password = _noinput_credentials(settings, email)
        name = full_name or ""
    else:
        address = _prompt_email(settings, email)
        name = full_name if full_name is not None else ask("Full name", default="")
        password = prompt_new_password(
            lambda candidate: _accounts(settings).check_password(candidate, address)
        )
    run_with_database(
        settings, lambda database: _create_superuser(database, settings, address, password, name)
    )
    success(f"Superuser {address} created successfully.")


async def _set_password(
    database: Database, settings: BaseSettings, email: str, password: str
) -> None:
    async with database.session():
        await _accounts(settings).set_password(email, password)


async def _user_email(database: Database, settings: BaseSettings, email: str) -> str:
    async with database.session():
        user = await _accounts(settings).get_user(email)
        return user.email


def changepassword(
    email: Annotated[str, typer.Argument(help="The email address of the user.")],
) -> None:
    """Set a user's password (asked twice, hidden)."""
    settings = load_settings()
    address = run_with_database(settings, lambda database: _user_email(database, settings, email))
    info(f"Changing password for user {address}")
    password = prompt_new_password(
        lambda candidate: _accounts(settings).check_password(candidate, address)
    )
    run_with_database(
        settings, lambda database: _set_password(database, settings, address, password)
    )
    success(f"Password changed successfully for user {address}.")
