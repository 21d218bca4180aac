"""The command line, Django's way: built-in commands plus the project's own.

A project's `manage.py` is a few lines:

    from fastmango.management import execute_from_command_line
    from fastmango.conf import get_settings

    execute_from_command_line(get_settings)

A project (or app) adds a command by dropping a module into `management/commands/`:
the module's name is the command's, and its `command` function is what runs
(typer reads its parameters and docstring for the options and the help).

The command line is lazy: a command's module is imported only when that command runs
or shows its help, so `manage.py --help` lists every command without loading the
ORM, the app or the project's services (each name's summary is stored beside it here,
or read from the project module's source).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import typer
from typer import _click as click  # typer (0.29+) ships its own click
from typer.core import TyperCommand, TyperGroup

from fastmango import conf


class Target(NamedTuple):
    """Where a command lives ("module:function") and its one-line summary for --help."""

    path: str
    summary: str


# name -> where the command is and what it does (the summary is the function's first
# docstring line, kept here so listing the commands imports none of them).
BUILTIN_COMMANDS: dict[str, Target] = {
    "runserver": Target(
        "fastmango.management.server:runserver",
        "Run the web server (the development server unless --prod).",
    ),
    "migrate": Target(
        "fastmango.management.migrate:migrate", "Apply (or revert) database migrations."
    ),
    "makemigrations": Target(
        "fastmango.management.migrate:makemigrations",
        "Write a new migration from the changes to models.py (Alembic autogenerate).",
    ),
    "showmigrations": Target(
        "fastmango.management.migrate:showmigrations",
        "List every migration: [X] applied, [ ] not applied yet.",
    ),
    "sqlmigrate": Target(
        "fastmango.management.sqlmigrate:sqlmigrate",
        "Print the SQL of one migration for the configured database.",
    ),
    "createsuperuser": Target(
        "fastmango.management.users:createsuperuser",
        "Create a superuser (staff, active, verified) who can do everything.",
    ),
    "changepassword": Target(
        "fastmango.management.users:changepassword", "Set a user's password (asked twice, hidden)."
    ),
    "dumpdata": Target(
        "fastmango.management.fixtures:dumpdata",
        "Write the database's rows as JSON fixtures (all installed apps by default).",
    ),
    "loaddata": Target(
        "fastmango.management.fixtures:loaddata",
        "Load JSON fixtures in one transaction, inserting or updating rows by primary key.",
    ),
    "flush": Target(
        "fastmango.management.flush:flush",
        "Delete every row of every table, keeping the schema and the applied migrations.",
    ),
    "dbshell": Target(
        "fastmango.management.dbshell:dbshell",
        "Open the database's own client (sqlite3 or psql) on the configured database.",
    ),
    "shell": Target(
        "fastmango.management.shell:shell",
        "Start a Python shell with the models, services and a database session ready.",
    ),
    "check": Target(
        "fastmango.management.check:check",
        "Inspect the settings, database, migrations and storage for common problems.",
    ),
    "startapp": Target(
        "fastmango.management.startapp:startapp",
        "Create a new app: route, service, template and test, wired into the router list.",
    ),
    "prestart": Target(
        "fastmango.management.prestart:prestart",
        "Wait for the database, apply migrations, create the first superuser (deploy step).",
    ),
    "assets": Target(
        "fastmango.management.assets:assets",
        "Build the front end into static/dist (node fastmango/web/build-assets.mjs).",
    ),
}
# `migrate -1` is a relative target, not an option.
CONTEXT_SETTINGS: dict[str, dict[str, Any]] = {"migrate": {"ignore_unknown_options": True}}
PROJECT_COMMANDS = "management.commands"


def _load(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return function


def summary_of(source: str, function: str = "command") -> str:
    """The first docstring line of `function` in `source` (else the module's), by reading it."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            doc = ast.get_docstring(node)
            if doc:
                return doc.strip().splitlines()[0]
    doc = ast.get_docstring(tree)
    return doc.strip().splitlines()[0] if doc else ""


def project_commands(package: str = PROJECT_COMMANDS) -> dict[str, Target]:
    """`{name: Target("module:command", summary)}` for each module of the commands package.

    The package is imported (its `__init__`), its modules are only read.
    """
    try:
        commands = importlib.import_module(package)
    except ModuleNotFoundError as exc:
        if exc.name is not None and package.startswith(exc.name):
            return {}  # the project has no commands of its own
        raise
    found: dict[str, Target] = {}
    for module in pkgutil.iter_modules(commands.__path__):
        if module.name.startswith("_"):
            continue
        summary = ""
        spec = importlib.util.find_spec(f"{package}.{module.name}")
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            summary = summary_of(Path(spec.origin).read_text(encoding="utf-8"))
        found[module.name] = Target(f"{package}.{module.name}:command", summary)
    return found


class LazyGroup(TyperGroup):
    """A group that imports a command's module only when the command is used.

    The top-level help lists each name with its stored summary (a stand-in command);
    running a command, or asking for its own help, builds the real one with typer.
    """

    targets: ClassVar[dict[str, Target]] = {}
    _listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.targets)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.targets.get(cmd_name)
        if target is None:
            return None
        if self._listing:
            return TyperCommand(cmd_name, help=target.summary, short_help=target.summary)
        if cmd_name not in self.commands:
            self.commands[cmd_name] = _typer_command(cmd_name, target.path)
        return self.commands[cmd_name]

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def _typer_command(name: str, path: str) -> click.Command:
    app = typer.Typer(add_completion=False, pretty_exceptions_show_locals=False)
    app.command(name, context_settings=CONTEXT_SETTINGS.get(name))(_load(path))
    return typer.main.get_command(app)


def build_cli(extra: dict[str, Target] | None = None) -> typer.Typer:
    """The Typer app: built-in commands, then the project's (which may replace one)."""
    commands = BUILTIN_COMMANDS | project_commands() | (extra or {})

    class ManageGroup(LazyGroup):
        targets = commands

    cli = typer.Typer(
        cls=ManageGroup,
        # Plain help at the top: rich's formatter alone takes longer to import than the rest.
        rich_markup_mode=None,
        help="The project's command line: run, migrate and inspect it.",
        no_args_is_help=True,
        add_completion=False,
        # Locals in a traceback can hold settings, passwords or a database URL.
        pretty_exceptions_show_locals=False,
    )

    @cli.callback()
    def root() -> None:
        """The project's command line."""

    return cli


def execute_from_command_line(
    get_settings: Callable[[], conf.BaseSettings], argv: Sequence[str] | None = None
) -> None:
    """Run the command `argv` names (default: the process's arguments)."""
    conf.configure(get_settings)
    build_cli()(args=list(argv) if argv is not None else None)
