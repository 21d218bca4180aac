"""`python -m fastmango` (and the `fastmango` console command): startproject."""

from __future__ import annotations

import typer

from fastmango.management.startproject import startproject


def main() -> None:
    cli = typer.Typer(help="fastmango's command line.", no_args_is_help=True)

    @cli.callback()
    def root() -> None:
        """Start a new project; inside one, use its `python manage.py`."""

    cli.command("startproject")(startproject)
    cli()


if __name__ == "__main__":
    main()
