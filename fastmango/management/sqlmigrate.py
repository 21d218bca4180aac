"""`sqlmigrate REVISION`: the SQL one migration runs, for the configured database's dialect.

Alembic's offline mode renders the statements without a connection (values inline);
`--backwards` shows the downgrade. Nothing is run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from alembic import command
from alembic.script import ScriptDirectory

from fastmango import migrations
from fastmango.management.common import fail, load_settings, reported_errors


@contextmanager
def _quiet_broken_pipe() -> Iterator[None]:
    """`sqlmigrate 0001 | head` stops reading early: end quietly, as `cat` would."""
    try:
        yield
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(code=0) from None


def sqlmigrate(
    revision: Annotated[str, typer.Argument(help="The migration's id, e.g. 0001.")],
    backwards: Annotated[
        bool, typer.Option("--backwards", help="Show the SQL that reverts the migration.")
    ] = False,
) -> None:
    """Print the SQL of one migration for the configured database."""
    settings = load_settings()
    config = migrations.alembic_config(settings)
    config.output_buffer = sys.stdout
    with reported_errors(settings), _quiet_broken_pipe():
        script = ScriptDirectory.from_config(config).get_revision(revision)
        if script is None:
            fail(f"Unknown migration {revision!r}.")
        down = script.down_revision
        if isinstance(down, tuple):
            fail(f"{script.revision} merges several migrations: show each one instead.")
        if backwards:
            command.downgrade(config, f"{script.revision}:{down or 'base'}", sql=True)
        elif down:
            command.upgrade(config, f"{down}:{script.revision}", sql=True)
        else:
            command.upgrade(config, script.revision, sql=True)
