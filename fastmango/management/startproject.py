"""`fastmango startproject NAME [DIR]`: a new, minimal project on the framework.

No demo models: accounts, the admin, health checks, the base layout, settings with
`example.env`, Alembic with an initial migration (the accounts tables), `manage.py`,
a passing test, a Dockerfile and fly.toml, and a README with the two commands. Files
named `*-tpl` are filled in (`$project_name`) and lose the suffix.
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from string import Template
from typing import Annotated

import typer

import fastmango
from fastmango.management.common import fail, info, success

TEMPLATE_DIR = Path(fastmango.__file__).resolve().parent / "project_template"
RENAMES = {"gitignore": ".gitignore"}
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,49}$")


def check_project_name(name: str) -> None:
    """Raise ValueError unless `name` is a lowercase identifier that is not a module we use."""
    if not NAME.match(name) or keyword.iskeyword(name):
        raise ValueError(
            f"{name!r} is not a valid project name: use lowercase letters, digits and "
            "underscores, starting with a letter (at most 50 characters)."
        )
    if name in sys.stdlib_module_names or name in {"fastmango", "main", "settings", "models"}:
        raise ValueError(f"{name!r} is the name of a module it would hide: choose another.")


def fastmango_requirement() -> str:
    """How the new project depends on this fastmango: from a checkout, by its path."""
    source = Path(fastmango.__file__).resolve().parent.parent
    if (source / "pyproject.toml").is_file():
        return f"fastmango @ {source.as_uri()}"
    return "fastmango"


def write_project(name: str, target: Path) -> list[Path]:
    """Copy the template into `target` (which must be empty or new); the files written."""
    if target.exists() and any(target.iterdir()):
        raise ValueError(f"{target} is not empty: give a new or empty folder.")
    values = {"project_name": name, "fastmango_requirement": fastmango_requirement()}
    written: list[Path] = []
    for source in sorted(TEMPLATE_DIR.rglob("*")):
        if source.is_dir() or "__pycache__" in source.parts:
            continue
        relative = source.relative_to(TEMPLATE_DIR)
        filename = relative.name.removesuffix("-tpl")
        destination = target / relative.parent / RENAMES.get(filename, filename)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if relative.name.endswith("-tpl"):
            text = Template(source.read_text(encoding="utf-8")).substitute(values)
            destination.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(source, destination)
        written.append(destination)
    (target / "alembic" / "versions").mkdir(parents=True, exist_ok=True)
    return written


def make_initial_migration(target: Path) -> None:
    """`manage.py makemigrations -m initial` in the new project, on a throwaway database."""
    scratch = target / "var" / "startproject.sqlite3"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{scratch}", "ENVIRONMENT": "test"}
    try:
        for command in (["migrate"], ["makemigrations", "-m", "initial"]):
            result = subprocess.run(  # noqa: S603 (our interpreter, our script)
                [sys.executable, "manage.py", *command],
                cwd=target,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(f"manage.py {' '.join(command)} failed:\n{result.stderr}")
    finally:
        shutil.rmtree(scratch.parent, ignore_errors=True)


def startproject(
    name: Annotated[str, typer.Argument(help="The project's name: a lowercase identifier.")],
    directory: Annotated[
        Path | None, typer.Argument(help="Where to write it [default: ./NAME].")
    ] = None,
) -> None:
    """Create a new fastmango project: accounts, admin, layout, migrations, tests, deploy files."""
    target = (directory or Path(name)).resolve()
    try:
        check_project_name(name)
        written = write_project(name, target)
        make_initial_migration(target)
    except (ValueError, RuntimeError) as exc:
        fail(str(exc))
    success(f"Created {name} in {target} ({len(written)} files and an initial migration).")
    info(f"Next: cd {target} && make run    (and `make test` for its tests)")
