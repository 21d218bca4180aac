"""The command line, Django's way: built-in commands plus the project's own.

A project's `manage.py` is a few lines:

    from fastmango.management import execute_from_command_line
    from fastmango.conf import get_settings

    execute_from_command_line(get_settings)

A project (or app) adds a command by dropping a module into `management/commands/`:
the module's name is the command's, and its `command` function is what runs
(typer reads its parameters and docstring for the options and the help).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from typing import Any

import typer

from fastmango import conf

# name -> "module:function", imported when the command line is built.
BUILTIN_COMMANDS: dict[str, str] = {
    "runserver": "fastmango.management.server:runserver",
    "migrate": "fastmango.management.migrate:migrate",
    "makemigrations": "fastmango.management.migrate:makemigrations",
    "showmigrations": "fastmango.management.migrate:showmigrations",
    "createsuperuser": "fastmango.management.users:createsuperuser",
    "changepassword": "fastmango.management.users:changepassword",
    "shell": "fastmango.management.shell:shell",
    "check": "fastmango.management.check:check",
    "startapp": "fastmango.management.startapp:startapp",
    "prestart": "fastmango.management.prestart:prestart",
}
# `migrate -1` is a relative target, not an option.
CONTEXT_SETTINGS: dict[str, dict[str, Any]] = {"migrate": {"ignore_unknown_options": True}}
PROJECT_COMMANDS = "management.commands"


def _load(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return function


def project_commands(package: str = PROJECT_COMMANDS) -> dict[str, str]:
    """`{name: "module:command"}` for each module of the project's commands package."""
    try:
        commands = importlib.import_module(package)
    except ModuleNotFoundError as exc:
        if exc.name is not None and package.startswith(exc.name):
            return {}  # the project has no commands of its own
        raise
    found: dict[str, str] = {}
    for module in pkgutil.iter_modules(commands.__path__):
        if not module.name.startswith("_"):
            found[module.name] = f"{package}.{module.name}:command"
    return found


def build_cli(extra: dict[str, str] | None = None) -> typer.Typer:
    """The Typer app: built-in commands, then the project's (which may replace one)."""
    cli = typer.Typer(
        help="The project's command line: run, migrate and inspect it.",
        no_args_is_help=True,
        add_completion=False,
        # Locals in a traceback can hold settings, passwords or a database URL.
        pretty_exceptions_show_locals=False,
    )
    commands = BUILTIN_COMMANDS | project_commands() | (extra or {})
    for name, target in commands.items():
        cli.command(name, context_settings=CONTEXT_SETTINGS.get(name))(_load(target))
    return cli


def execute_from_command_line(
    get_settings: Callable[[], conf.BaseSettings], argv: Sequence[str] | None = None
) -> None:
    """Run the command `argv` names (default: the process's arguments)."""
    conf.configure(get_settings)
    build_cli()(args=list(argv) if argv is not None else None)
