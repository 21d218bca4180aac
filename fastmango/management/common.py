"""What every command shares: settings, one database per run, output, errors, prompts."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, TypeVar, overload

import pydantic
import typer
from alembic.util import CommandError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import ArgumentError, DBAPIError

from fastmango.checks import ImproperlyConfigured, startup_settings
from fastmango.checks import (
    settings_error as settings_error,  # re-exported: management.check uses it
)
from fastmango.conf import BaseSettings, get_settings
from fastmango.db import Database
from fastmango.errors import DomainError

T = TypeVar("T")
S = TypeVar("S", bound=BaseSettings)

# soft_wrap: long lines (hints, paths) stay whole instead of wrapping at 80 columns.
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def info(message: str, style: str = "") -> None:
    """Print `message` as plain text (never read as rich markup) to stdout."""
    console.print(escape(message), style=style or None)


def success(message: str) -> None:
    info(message, style="green")


def warn(message: str) -> None:
    info(message, style="yellow")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error to stderr and end the command with a non-zero exit code."""
    err_console.print(f"[bold red]Error:[/] {escape(message)}")
    raise typer.Exit(code=code)


@overload
def load_settings() -> BaseSettings: ...
@overload
def load_settings(kind: type[S]) -> S: ...
def load_settings(kind: type[BaseSettings] = BaseSettings) -> BaseSettings:
    """The project's settings, or a clean exit saying which setting is wrong.

    A project command passes its own class (`load_settings(Settings)`) to get it typed.
    """
    try:
        settings = get_settings()
    except (pydantic.ValidationError, ArgumentError) as exc:
        fail(settings_error(exc))
    if not isinstance(settings, kind):
        fail(f"The configured settings are not a {kind.__name__}: see manage.py.")
    return settings


def load_startup_settings() -> BaseSettings:
    """The settings for commands that serve or deploy the app (runserver, prestart):
    refused, with the app's own message and a non-zero exit, where the app would refuse."""
    try:
        return startup_settings(get_settings)
    except ImproperlyConfigured as exc:
        fail(str(exc))


@contextmanager
def reported_errors(settings: BaseSettings) -> Iterator[None]:
    """Turn the failures a command expects into one error line and an exit code.

    Domain errors, Alembic errors and database failures exit with code 1 (the
    database URL shown with its password masked); Ctrl-C exits with 130.
    """
    try:
        yield
    except DomainError as exc:
        fail(exc.detail)
    except CommandError as exc:
        fail(str(exc))
    except DBAPIError as exc:
        # The driver's own message only: str(exc) lists the statement's parameters.
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        if "no such table" in detail or "does not exist" in detail:
            detail += " (run `python manage.py migrate` first)"
        fail(f"Database error on {settings.safe_database_url}: {detail}")
    except OSError as exc:
        fail(f"Cannot reach the database at {settings.safe_database_url}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        raise typer.Exit(code=130) from None


def run_with_database(settings: BaseSettings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work(database)` on a fresh event loop; the engine is always disposed."""

    async def main() -> T:
        database = Database(settings)
        try:
            return await work(database)
        finally:
            await database.dispose()

    with reported_errors(settings):
        return asyncio.run(main())


def read_secret(prompt: str) -> str:
    """Read a password without echo; from a pipe (scripts, tests) read one line.

    getpass would open /dev/tty even when stdin is a pipe, and warn when it can't.
    """
    if sys.stdin.isatty():
        try:
            return getpass.getpass(prompt)
        except (KeyboardInterrupt, EOFError):
            err_console.print("\nCancelled.")
            raise typer.Exit(code=1) from None
    err_console.print(prompt, end="")
    line = sys.stdin.readline()
    if not line:
        err_console.print("\nCancelled: no input.")
        raise typer.Exit(code=1)
    return line.rstrip("\r\n")


def prompt_new_password(check: Callable[[str], None]) -> str:
    """Ask for a password twice until both match and `check` accepts it.

    `check` raises a DomainError saying which rules the password breaks.
    """
    while True:
        password = read_secret("Password: ")
        if password != read_secret("Password (again): "):
            err_console.print("[red]Error:[/] Your passwords didn't match.")
            continue
        if not password.strip():
            err_console.print("[red]Error:[/] Blank passwords aren't allowed.")
            continue
        try:
            check(password)
        except DomainError as exc:
            err_console.print(f"[red]Error:[/] {escape(exc.detail)}")
            continue
        return password


def ask(prompt: str, default: str | None = None) -> str:
    """A plain (echoed) prompt; Ctrl-C or end of input ends the command cleanly."""
    try:
        answer: str = typer.prompt(prompt, default=default, show_default=bool(default))
    except typer.Abort:
        err_console.print("\nCancelled.")
        raise typer.Exit(code=1) from None
    return answer.strip()
