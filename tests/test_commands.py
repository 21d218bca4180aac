"""Django's everyday commands: dumpdata, loaddata, flush, sqlmigrate, dbshell, assets, and a
lazy `--help`. Each runs as a user runs it (`python manage.py ...`, see test_manage)."""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from fastmango.accounts.models import Group, User
from fastmango.db import Database
from fastmango.management import BUILTIN_COMMANDS, _load, project_commands
from fastmango.management.dbshell import client_command
from fastmango.orm import Model
from models import Product, Webinar
from settings import Settings
from tests.test_manage import COMMANDS, ROOT, cli_env, manage_py
from tests.utils import make_product, make_user

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


async def snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: equal snapshots mean equal data."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    async with database.engine.connect() as connection:
        for table in Model.metadata.sorted_tables:
            result = await connection.execute(select(table))
            rows[table.name] = sorted((tuple(map(repr, row)) for row in result), key=str)
    return rows


async def fill(database: Database) -> None:
    async with database.session():
        await make_user(email="sales@example.com", groups=("Sales", "Marketing"))
        await make_user(email="admin@example.com", is_superuser=True)
        await make_product(price=Decimal("1234.56"), description='Ünïcode, "quotes"\n')
        await make_product(in_stock=False)


async def count(database: Database, model: type[Any]) -> int:
    async with database.session():
        total: int = await model.objects.count()
    return total


# -- the command line ------------------------------------------------------------------


def test_help_lists_every_command_without_importing_them() -> None:
    code = (
        "import sys\n"
        "from fastmango.management import execute_from_command_line\n"
        "from settings import get_settings\n"
        "try:\n"
        "    execute_from_command_line(get_settings, ['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ['models', 'sqlmodel', 'fastmango.db', 'fastmango.management.common',\n"
        "         'fastmango.management.fixtures', 'management.commands.seed', 'rich']\n"
        "print('LOADED', [name for name in heavy if name in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout
    for name in COMMANDS:
        assert f"\n  {name} " in result.stdout, name
    assert "Compute product embeddings" in result.stdout  # the project's, read from its source


def test_stored_summaries_match_the_commands_docstrings() -> None:
    for name, target in BUILTIN_COMMANDS.items() | project_commands().items():
        doc = inspect.getdoc(_load(target.path))
        assert doc, name
        assert target.summary == doc.splitlines()[0], name


async def test_a_command_s_own_help_loads_it() -> None:
    result = await manage_py("loaddata", "--help", env=cli_env())
    assert result.returncode == 0, result.stderr
    assert "one transaction" in result.stdout


# -- dumpdata, flush, loaddata ---------------------------------------------------------


async def test_dumpdata_flush_loaddata_round_trip(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    await fill(database)
    before = await snapshot(database)
    fixture = tmp_path / "all.json"

    dumped = await manage_py(
        "dumpdata", "--indent", "2", "--output", str(fixture), settings=settings
    )
    assert dumped.returncode == 0, dumped.stderr
    assert "$argon2" not in dumped.stdout + dumped.stderr
    assert fixture.stat().st_mode & 0o077 == 0  # password hashes: the owner's only
    objects = json.loads(fixture.read_text())
    models = [entry["model"] for entry in objects]
    assert models.index("accounts.user") < models.index("accounts.usergrouplink")
    user = next(e for e in objects if e["fields"].get("email") == "sales@example.com")
    assert user["fields"]["hashed_password"].startswith("$argon2")
    product = next(e for e in objects if e["model"] == "catalogue.product")
    assert product["fields"]["price"] == "1234.56"
    assert product["fields"]["created_at"].endswith("+00:00")

    flushed = await manage_py("flush", "--noinput", settings=settings)
    assert flushed.returncode == 0, flushed.stderr
    assert await count(database, User) == 0
    assert await count(database, Product) == 0

    loaded = await manage_py("loaddata", str(fixture), settings=settings)
    assert loaded.returncode == 0, loaded.stderr
    assert f"Installed {len(objects)} object(s)" in loaded.stdout
    assert "$argon2" not in loaded.stdout + loaded.stderr
    assert await snapshot(database) == before

    # Loading again updates the same rows; new rows get ids after the loaded ones.
    again = await manage_py("loaddata", str(fixture), settings=settings)
    assert again.returncode == 0, again.stderr
    assert await snapshot(database) == before
    async with database.session():
        newest = await make_product()
    assert newest.id is not None
    assert newest.id > max(e["pk"] for e in objects if e["model"] == "catalogue.product")


@sqlite_only
async def test_dumpdata_selects_apps_and_models(settings: Settings, database: Database) -> None:
    await fill(database)
    result = await manage_py("dumpdata", "catalogue.product", "accounts.group", settings=settings)
    assert result.returncode == 0, result.stderr
    models = {entry["model"] for entry in json.loads(result.stdout)}
    assert models == {"catalogue.product", "accounts.group"}

    unknown = await manage_py("dumpdata", "nosuchapp", settings=settings)
    assert unknown.returncode == 1
    assert "Unknown app or model 'nosuchapp'" in unknown.stderr


async def test_loaddata_of_a_bad_file_changes_nothing(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    await fill(database)
    before = await snapshot(database)
    product = {
        "model": "catalogue.product",
        "pk": 500,
        "fields": {"name": "New", "price": "1.00", "category": "Tools", "in_stock": True},
    }
    # The product is valid; the link names a user who does not exist: all or nothing.
    broken_link = tmp_path / "link.json"
    link = {"model": "accounts.usergrouplink", "pk": [99999, 1], "fields": {}}
    broken_link.write_text(json.dumps([product, link]))
    bad_value = tmp_path / "value.json"
    bad_value.write_text(json.dumps([product | {"fields": {"price": "a lot"}}]))
    not_json = tmp_path / "truncated.json"
    not_json.write_text('[{"model": "catalogue.product", ')
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps([{"model": "shop.basket", "pk": 1, "fields": {}}]))

    cases = [
        (broken_link, "Database error"),
        (bad_value, "object #1: field 'price': 'a lot' not a valid Decimal"),
        (not_json, "is not a JSON fixture"),
        (unknown, "unknown model 'shop.basket'"),
    ]
    for path, message in cases:
        result = await manage_py("loaddata", str(path), settings=settings)
        assert result.returncode == 1, path
        assert message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert await snapshot(database) == before


@sqlite_only
async def test_flush_asks_first(settings: Settings, database: Database) -> None:
    await fill(database)
    kept = await manage_py("flush", settings=settings, stdin="no\n")
    assert kept.returncode == 0, kept.stderr
    assert "Flush cancelled." in kept.stdout
    assert await count(database, Product) == 2

    emptied = await manage_py("flush", settings=settings, stdin="yes\n")
    assert emptied.returncode == 0, emptied.stderr
    assert await count(database, Product) == 0
    assert await count(database, Webinar) == 0
    async with database.session():
        assert await Group.objects.count() == 0
    shown = await manage_py("showmigrations", settings=settings)
    assert "[X]" in shown.stdout  # alembic_version is kept


# -- sqlmigrate, dbshell, assets -------------------------------------------------------


async def test_sqlmigrate_prints_the_initial_schema(settings: Settings) -> None:
    forwards = await manage_py("sqlmigrate", "0001", settings=settings)
    assert forwards.returncode == 0, forwards.stderr
    assert "CREATE TABLE users (" in forwards.stdout
    assert "CREATE TABLE products (" in forwards.stdout
    if settings.is_sqlite:
        assert "SERIAL" not in forwards.stdout
    else:
        assert "SERIAL" in forwards.stdout

    backwards = await manage_py("sqlmigrate", "0001", "--backwards", settings=settings)
    assert backwards.returncode == 0, backwards.stderr
    assert "DROP TABLE users;" in backwards.stdout
    assert "CREATE TABLE" not in backwards.stdout

    unknown = await manage_py("sqlmigrate", "9999", settings=settings)
    assert unknown.returncode == 1
    assert "9999" in unknown.stderr


def test_psql_gets_the_password_in_its_environment_only() -> None:
    url = make_url("postgresql+asyncpg://app:s3cret-pass@db.internal:6543/shop?sslmode=require")
    args, env = client_command(url, ["-c", "SELECT 1"])
    assert args == [
        "psql",
        "--host",
        "db.internal",
        "--port",
        "6543",
        "--username",
        "app",
        "--dbname",
        "shop",
        "-c",
        "SELECT 1",
    ]
    assert env == {"PGPASSWORD": "s3cret-pass", "PGSSLMODE": "require"}


async def test_dbshell_runs_the_database_client(settings: Settings, database: Database) -> None:
    await fill(database)
    client = "sqlite3" if settings.is_sqlite else "psql"
    extra = ["SELECT count(*) FROM products;"] if settings.is_sqlite else ["-tAc", "SELECT 40+2"]
    result = await manage_py("dbshell", "--", *extra, settings=settings)
    if shutil.which(client) is None:
        assert result.returncode == 1
        assert f"The `{client}` program is not installed" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("2" if settings.is_sqlite else "42")
    password = make_url(settings.database_url).password
    if password:
        assert password not in result.stdout + result.stderr


@sqlite_only
async def test_dbshell_and_assets_say_what_is_missing(settings: Settings, tmp_path: Path) -> None:
    env = cli_env(settings, PATH=str(tmp_path))  # no sqlite3, no node
    shell = await manage_py("dbshell", env=env)
    assert shell.returncode == 1
    assert "The `sqlite3` program is not installed" in shell.stderr
    assert "apt-get install sqlite3" in shell.stderr

    assets = await manage_py("assets", env=env)
    assert assets.returncode == 1
    assert "Node.js is not installed" in assets.stderr
