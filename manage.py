#!/usr/bin/env python
"""fastmango's command line, the Django way: `python manage.py --help`.

Each command lives in `management/`; this file only names them.
"""

from __future__ import annotations

import typer

from fastmango.management import check, migrate, prestart, server, shell, startapp, users
from management import embed, seed

app = typer.Typer(
    help="fastmango's command line: run, migrate, seed and inspect the project.",
    no_args_is_help=True,
    add_completion=False,
    # Locals in a traceback can hold settings, passwords or a database URL.
    pretty_exceptions_show_locals=False,
)
app.command("runserver")(server.runserver)
# ignore_unknown_options: `migrate -1` is a relative target, not an option.
app.command("migrate", context_settings={"ignore_unknown_options": True})(migrate.migrate)
app.command("makemigrations")(migrate.makemigrations)
app.command("showmigrations")(migrate.showmigrations)
app.command("createsuperuser")(users.createsuperuser)
app.command("changepassword")(users.changepassword)
app.command("seed")(seed.seed_command)
app.command("embed")(embed.embed_command)
app.command("shell")(shell.shell)
app.command("check")(check.check)
app.command("startapp")(startapp.startapp)
app.command("prestart")(prestart.prestart)

if __name__ == "__main__":
    app()
