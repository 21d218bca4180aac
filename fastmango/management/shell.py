"""`shell`: a Python REPL where top-level `await` works and `Model.objects` is ready.

Like `python -m asyncio`, code is compiled with PyCF_ALLOW_TOP_LEVEL_AWAIT and
coroutines run on one event loop. Every snippet runs in one `contextvars.Context`
holding an open session scope, so `await Product.objects.count()` just works and
writes commit (Django's autocommit).
"""

from __future__ import annotations

import ast
import asyncio
import code
import contextvars
import enum
import importlib
import inspect
import traceback
import types
from typing import Annotated, Any

import typer
from sqlmodel import SQLModel

from fastmango import orm
from fastmango.conf import BaseSettings
from fastmango.db import Database
from fastmango.management.common import load_settings, reported_errors


def namespace(database: Database, settings: BaseSettings) -> dict[str, Any]:
    """What the shell starts with: models, enums, services, ORM helpers, `db`."""
    names: dict[str, Any] = {}
    for module_name in settings.shell_imports:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # listed but not in this project
            raise
        # Its own tables and enums, and whatever it exports (`services.__all__`).
        names |= {
            name: value
            for name, value in vars(module).items()
            if isinstance(value, type)
            and value.__module__ == module.__name__
            and issubclass(value, (SQLModel, enum.Enum))
        }
        names |= {name: getattr(module, name) for name in getattr(module, "__all__", ())}
    names |= {name: getattr(orm, name) for name in ("Q", "atomic", "Avg", "Count", "Max", "Min")}
    names |= {"Sum": orm.Sum, "asyncio": asyncio, "db": database, "settings": settings}
    return names


class AsyncShell(code.InteractiveConsole):
    """An InteractiveConsole whose snippets may `await`; all run in one context."""

    def __init__(self, names: dict[str, Any], runner: asyncio.Runner) -> None:
        super().__init__(names, filename="<shell>")
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self.runner = runner
        self.context = contextvars.copy_context()

    def run_awaitable(self, result: Any) -> Any:
        """Await `result` on the shell's loop if it is a coroutine; return its value."""
        if inspect.iscoroutine(result):
            return self.runner.run(result, context=self.context)
        return result

    def runcode(self, code: types.CodeType) -> None:
        function = types.FunctionType(code, self.locals)
        try:
            self.run_awaitable(self.context.run(function))
        except SystemExit:
            raise
        except BaseException as exc:  # the REPL shows the user's error and carries on
            self.write(_user_traceback(exc))

    def run_source(self, source: str) -> bool:
        """Run a whole program (`shell -c`); False (after a traceback) if it raised."""
        try:
            compiled = compile(source, "<shell>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            self.run_awaitable(self.context.run(eval, compiled, self.locals))
        except SystemExit:
            raise
        except BaseException as exc:
            self.write(_user_traceback(exc))
            return False
        return True


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the user's code on: the shell's and asyncio's frames hidden."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != "<shell>":
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


def _enable_completion(names: dict[str, Any]) -> None:
    try:
        import readline
        import rlcompleter
    except ImportError:  # readline is missing on some platforms; the REPL still works
        return
    readline.set_completer(rlcompleter.Completer(names).complete)
    readline.parse_and_bind("tab: complete")


def _banner(settings: BaseSettings, names: dict[str, Any]) -> str:
    return (
        f"fastmango shell ({settings.environment}, {settings.safe_database_url})\n"
        f"Imported: {', '.join(sorted(names))}\n"
        "Top-level await works: await Product.objects.count()"
    )


def shell(
    command: Annotated[
        str | None,
        typer.Option("--command", "-c", help="Run this code instead of starting the REPL."),
    ] = None,
) -> None:
    """Start a Python shell with the models, services and a database session ready."""
    settings = load_settings()
    ok = True
    with reported_errors(settings), asyncio.Runner() as runner:
        database = Database(settings)
        names = namespace(database, settings)
        console = AsyncShell(names, runner)
        scope = database.session()
        try:
            names["session"] = console.run_awaitable(scope.__aenter__())
            if command is not None:
                ok = console.run_source(command)
            else:
                _enable_completion(names)
                console.interact(banner=_banner(settings, names), exitmsg="")
        finally:
            console.run_awaitable(scope.__aexit__(None, None, None))
            runner.run(database.dispose())
    if not ok:
        raise typer.Exit(code=1)
