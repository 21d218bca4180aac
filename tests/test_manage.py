"""manage.py: each command run as a user runs it (a subprocess), plus in-process checks.

Subprocesses cost one to two seconds each, so the cheap paths run in-process
with typer's CliRunner and only the paths that need a real process use one.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fastmango import migrations
from fastmango.accounts.auth import verify_password
from fastmango.accounts.models import User
from fastmango.checks import Level, deploy_checks
from fastmango.db import Database
from fastmango.errors import ValidationError
from fastmango.management import check as check_module
from fastmango.management import migrate as migrate_module
from fastmango.management.server import HeaderDeadlineProtocol
from fastmango.management.shell import AsyncShell
from fastmango.management.startapp import check_name, wire_router
from models import Product
from settings import Settings, get_settings
from tests.conftest import TEST_SECRET_KEY, make_settings
from tests.utils import cli

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (
    "runserver",
    "migrate",
    "makemigrations",
    "showmigrations",
    "sqlmigrate",
    "createsuperuser",
    "changepassword",
    "dumpdata",
    "loaddata",
    "flush",
    "dbshell",
    "seed",
    "embed",
    "shell",
    "check",
    "startapp",
    "prestart",
    "assets",
)
STRONG_PASSWORD = "a-long-superuser-passphrase-7"
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def cli_env(settings: Settings | None = None, **extra: str) -> dict[str, str]:
    """The parent's environment minus anything that configures the app, plus test values."""
    setting_names = {name.upper() for name in Settings.model_fields}
    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in setting_names
        and "DATABASE_URL" not in key.upper()
        and not key.startswith(("PG", "PYTEST_"))
    }
    env |= {
        "ENVIRONMENT": "test",
        "SECRET_KEY": TEST_SECRET_KEY,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "EMAIL_BACKEND": "memory",
        "MIGRATE_ON_STARTUP": "false",
        "SUPERUSER_EMAIL": "",
        "SUPERUSER_PASSWORD": "",
        "COLUMNS": "200",
        "PYTHONWARNINGS": "error",
    }
    if settings is not None:
        env["DATABASE_URL"] = settings.database_url
    return env | extra


async def manage_py(
    *args: str,
    settings: Settings | None = None,
    env: dict[str, str] | None = None,
    stdin: str = "",
    cwd: Path = ROOT,
) -> subprocess.CompletedProcess[str]:
    """Run `python manage.py ARGS` in `cwd` (off the event loop)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "manage.py", *args],
        cwd=cwd,
        env=env if env is not None else cli_env(settings),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_no_secrets(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    output = result.stdout + result.stderr
    for secret in (*secrets, "$argon2"):
        assert secret not in output


async def get_user(database: Database, email: str) -> User | None:
    # A fresh scope: on SQLite an older read transaction would not see the CLI's writes.
    async with database.session():
        user: User | None = await User.objects.get_or_none(email=email)
        return user


# -- in-process (CliRunner) ------------------------------------------------------------


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """get_settings() for in-process runs: test values only, no .env file, fresh cache."""
    for key in list(os.environ):
        if key.upper() in {name.upper() for name in Settings.model_fields}:
            monkeypatch.delenv(key)
    for key, value in cli_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_every_command_is_registered_with_help() -> None:
    from typer.main import get_command

    group: Any = get_command(cli())
    context = group.make_context("manage.py", ["--help"], resilient_parsing=True)
    assert set(group.list_commands(context)) == set(COMMANDS)
    for name in group.list_commands(context):
        command = group.get_command(context, name)  # imports the command's module
        assert command.help, name
        assert len(command.help) > 15, name


@pytest.mark.usefixtures("isolated_env")
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "needs SUPERUSER_EMAIL (or --email) and SUPERUSER_PASSWORD"),
        ({"SUPERUSER_EMAIL": "root@example.com"}, "needs SUPERUSER_PASSWORD"),
        (
            {"SUPERUSER_EMAIL": "root@example.com", "SUPERUSER_PASSWORD": "short"},
            "SUPERUSER_PASSWORD is not acceptable: This password is too short",
        ),
        (
            {"SUPERUSER_EMAIL": "root@example.com", "SUPERUSER_PASSWORD": "1234567890123"},
            "entirely numeric",
        ),
        ({"SUPERUSER_EMAIL": "root", "SUPERUSER_PASSWORD": STRONG_PASSWORD}, "valid email"),
    ],
)
def test_createsuperuser_noinput_refuses_missing_or_weak_values(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli(), ["createsuperuser", "--noinput"])
    assert result.exit_code == 1
    assert message in result.output
    assert "short" not in result.output.replace("too short", "")


@pytest.mark.usefixtures("isolated_env")
def test_bad_settings_are_named_without_their_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://admin:hunter2secret@db.example/app")
    result = CliRunner().invoke(cli(), ["showmigrations"])
    assert result.exit_code == 1
    assert "DATABASE_URL" in result.output
    assert "hunter2secret" not in result.output
    check_result = CliRunner().invoke(cli(), ["check"])
    assert check_result.exit_code == 1
    assert "settings.E001" in check_result.output
    assert "hunter2secret" not in check_result.output


@pytest.mark.usefixtures("isolated_env")
def test_runserver_prints_the_url_and_serves_main_app(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr("uvicorn.run", lambda target, **kw: calls.append((target, kw)))
    result = CliRunner().invoke(cli(), ["runserver", "--port", "8123", "--reload"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8123/" in result.output
    # Our logging, not uvicorn's (its access log would print query strings).
    expected = {"host": "127.0.0.1", "port": 8123, "reload": True}
    # The slow-client deadline protocol; client addresses from the app's own proxy check.
    expected |= {"http": HeaderDeadlineProtocol, "proxy_headers": False}
    assert calls == [("main:app", expected | {"access_log": False, "log_config": None})]


ROUTES_INIT = """\
from fastapi import APIRouter

from routes import health, pages

ROUTERS: list[APIRouter] = [
    health.router,
    pages.router,
    # startapp: new routers go above this line
]
"""


def test_startapp_name_rules() -> None:
    for bad in ("Blog", "9lives", "my-app", "class", "match", "json", "models", "a" * 26):
        with pytest.raises(ValidationError, match=r"not a valid|keyword|conflicts|too long"):
            check_name(bad)
    check_name("blog_posts")


def test_startapp_wires_routers_sorted_and_wraps_long_imports() -> None:
    wired = wire_router(wire_router(ROUTES_INIT, "app10"), "app2")
    assert "from routes import app2, app10, health, pages\n" in wired
    marker = "    # startapp: new routers go above this line"
    assert f"    pages.router,\n    app10.router,\n    app2.router,\n{marker}" in wired
    with pytest.raises(ValidationError, match="already imported"):
        wire_router(wired, "app2")
    many = ROUTES_INIT
    for name in (
        "accounts",
        "billing",
        "dashboard",
        "notifications",
        "subscriptions",
        "warehouses",
    ):
        many = wire_router(many, name)
    assert "from routes import (\n    accounts,\n    billing,\n" in many
    assert "    pages,\n    subscriptions,\n    warehouses,\n)\n" in many
    assert wire_router(many, "zebra").count("zebra") == 2
    with pytest.raises(ValidationError, match="startapp: new routers"):
        wire_router("from routes import pages\n", "blog")


def test_check_report_layout() -> None:
    weak = make_settings("sqlite+aiosqlite://", environment="production", debug=True)
    report = check_module.report(deploy_checks(weak))
    assert report.startswith("System check identified some issues:\n\nERRORS:\n")
    assert "?: (security.E018) DEBUG is on in production.\n\tHINT: Set DEBUG=false." in report
    assert report.index("ERRORS:") < report.index("WARNINGS:")
    assert report.endswith("issues.")
    assert check_module.report([]) == "System check identified no issues."


def test_shell_console_keeps_one_loop_and_context(capsys: pytest.CaptureFixture[str]) -> None:
    names: dict[str, Any] = {}
    with asyncio.Runner() as runner:
        console = AsyncShell(names, runner)
        console.push("import asyncio, contextvars")
        console.push("var = contextvars.ContextVar('var')")
        # A value set by one snippet is seen by the next: the session scope relies on it.
        console.push("token = var.set(5)")
        console.push("got = await asyncio.sleep(0, result=var.get())")
        console.push("loop = await asyncio.sleep(0, result=asyncio.get_running_loop())")
        console.push("same = await asyncio.sleep(0, result=asyncio.get_running_loop() is loop)")
        assert console.run_source("print('ok', await asyncio.sleep(0, result=1))")
        assert console.run_source("1 / 0") is False
    assert names["got"] == 5
    assert names["same"] is True
    captured = capsys.readouterr()
    assert "ok 1" in captured.out
    assert "ZeroDivisionError" in captured.err
    assert "run_awaitable" not in captured.err  # the traceback starts at the user's code


async def test_check_warns_about_unapplied_migrations(empty_database_url: str) -> None:
    settings = make_settings(empty_database_url)
    database = Database(settings)
    try:
        messages = await check_module.database_checks(database, settings)
    finally:
        await database.dispose()
    assert [(m.id, m.level) for m in messages] == [("database.W002", Level.WARNING)]
    assert "not applied: 0001" in messages[0].msg
    assert "manage.py migrate" in messages[0].hint


async def test_check_reports_an_unreachable_database_without_its_password() -> None:
    settings = make_settings("postgresql+asyncpg://app:s3cret-pw@127.0.0.1:9/app")
    database = Database(settings)
    try:
        messages = await check_module.database_checks(database, settings)
    finally:
        await database.dispose()
    assert [m.id for m in messages] == ["database.E001"]
    assert "app:***@127.0.0.1:9" in messages[0].msg
    assert "s3cret-pw" not in str(messages[0])


async def test_migrate_when_up_to_date_says_so(
    settings: Settings, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    await migrate_module._migrate(database, settings, "head")
    assert "No migrations to apply." in capsys.readouterr().out


# -- subprocesses ----------------------------------------------------------------------


async def test_help_lists_every_command() -> None:
    result = await manage_py("--help", env=cli_env())
    assert result.returncode == 0, result.stderr
    for name in COMMANDS:
        assert name in result.stdout


async def test_migrate_showmigrations_and_migrate_zero(empty_database_url: str) -> None:
    settings = make_settings(empty_database_url)
    applied = await manage_py("migrate", settings=settings)
    assert applied.returncode == 0, applied.stderr
    assert "Applying 0001 initial schema... OK" in applied.stdout

    shown = await manage_py("showmigrations", settings=settings)
    assert shown.returncode == 0, shown.stderr
    assert " [X] 0001 initial schema" in shown.stdout

    reverted = await manage_py("migrate", "zero", settings=settings)
    assert reverted.returncode == 0, reverted.stderr
    assert "Unapplying 0001 initial schema... OK" in reverted.stdout
    database = Database(settings)
    try:
        states = await migrations.states(database, settings)
    finally:
        await database.dispose()
    assert states
    assert not any(state.applied for state in states)


async def test_makemigrations_detects_no_changes(settings: Settings) -> None:
    versions = ROOT / "alembic" / "versions"
    before = {path.name for path in versions.iterdir()}
    try:
        result = await manage_py("makemigrations", "-m", "nothing", settings=settings)
    finally:
        written = {path.name for path in versions.iterdir()} - before
        for name in written:  # never leave a stray migration in the real tree
            (versions / name).unlink()
    assert not written, f"models.py and the migrations differ: {result.stdout}"
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


@sqlite_only
async def test_createsuperuser_noinput_then_duplicate(
    settings: Settings, database: Database
) -> None:
    env = cli_env(settings, SUPERUSER_EMAIL="Root@Example.com", SUPERUSER_PASSWORD=STRONG_PASSWORD)
    created = await manage_py("createsuperuser", "--noinput", "--full-name", "Root", env=env)
    assert created.returncode == 0, created.stderr
    assert "Superuser root@example.com created successfully." in created.stdout
    assert_no_secrets(created, STRONG_PASSWORD)
    user = await get_user(database, "root@example.com")
    assert user is not None
    assert (user.is_superuser, user.is_staff, user.is_active, user.is_verified) == (True,) * 4
    assert user.full_name == "Root"
    assert verify_password(STRONG_PASSWORD, user.hashed_password)[0]

    again = await manage_py("createsuperuser", "--noinput", env=env)
    assert again.returncode == 1
    assert "A user with the email root@example.com already exists." in again.stderr
    assert_no_secrets(again, STRONG_PASSWORD)


@sqlite_only
async def test_createsuperuser_interactive_reprompts(
    settings: Settings, database: Database
) -> None:
    answers = [
        "not-an-email",
        "Grace@Example.com",
        "Grace Hopper",
        "short",
        "short",
        STRONG_PASSWORD,
        "a-different-passphrase",
        STRONG_PASSWORD,
        STRONG_PASSWORD,
    ]
    result = await manage_py("createsuperuser", settings=settings, stdin="\n".join(answers) + "\n")
    assert result.returncode == 0, result.stderr
    assert "valid email" in result.stderr
    assert "too short" in result.stderr
    assert "didn't match" in result.stderr
    assert_no_secrets(result, STRONG_PASSWORD, "a-different-passphrase")
    user = await get_user(database, "grace@example.com")
    assert user is not None
    assert user.is_superuser
    assert user.full_name == "Grace Hopper"


@sqlite_only
async def test_changepassword(settings: Settings, database: Database) -> None:
    from services import AccountService

    async with database.session():
        await AccountService().create_user("ada@example.com", STRONG_PASSWORD)
    new_password = "brand-new-passphrase-99"
    changed = await manage_py(
        "changepassword", "ADA@example.com", settings=settings, stdin=f"{new_password}\n" * 2
    )
    assert changed.returncode == 0, changed.stderr
    assert "Password changed successfully for user ada@example.com." in changed.stdout
    assert_no_secrets(changed, new_password, STRONG_PASSWORD)
    user = await get_user(database, "ada@example.com")
    assert user is not None
    assert verify_password(new_password, user.hashed_password)[0]

    unknown = await manage_py("changepassword", "nobody@example.com", settings=settings)
    assert unknown.returncode == 1
    assert "No user with the email nobody@example.com." in unknown.stderr


async def test_shell_runs_code_with_top_level_await(settings: Settings, database: Database) -> None:
    code = (
        "await Product.objects.create(name='Made in the shell', price='3.50', category='Tools')\n"
        "print('count', await Product.objects.count())\n"
        "print('names', await Product.objects.values_list('name', flat=True))"
    )
    result = await manage_py("shell", "-c", code, settings=settings)
    assert result.returncode == 0, result.stderr
    assert "count 1" in result.stdout
    assert "names ['Made in the shell']" in result.stdout
    async with database.session():  # the write was committed
        assert await Product.objects.filter(name="Made in the shell").exists()


@sqlite_only
async def test_check_is_clean_in_the_test_environment(settings: Settings) -> None:
    result = await manage_py("check", settings=settings)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues." in result.stdout


@sqlite_only
async def test_check_deploy_reports_weak_production_settings(settings: Settings) -> None:
    env = cli_env(
        settings,
        ENVIRONMENT="production",
        SECRET_KEY="insecure-key",
        DEBUG="true",
        ALLOWED_HOSTS="",
    )
    result = await manage_py("check", "--deploy", env=env)
    assert result.returncode == 1
    for message_id in ("security.E009", "security.E018", "security.E020"):
        assert f"?: ({message_id})" in result.stdout
    assert "\tHINT: Set DEBUG=false." in result.stdout
    assert "insecure-key" not in result.stdout


@sqlite_only
async def test_check_deploy_passes_good_production_settings(settings: Settings) -> None:
    env = cli_env(
        settings,
        ENVIRONMENT="production",
        SECRET_KEY="Zq8-" + TEST_SECRET_KEY[::-1],
        ALLOWED_HOSTS="shop.example.com",
        SECURE_SSL_REDIRECT="true",
        SECURE_HSTS_SECONDS="31536000",
    )
    result = await manage_py("check", "--deploy", "--fail-level", "ERROR", env=env)
    assert result.returncode == 0, result.stdout
    assert "ERRORS:" not in result.stdout
    assert "database.W001" in result.stdout  # SQLite: a warning, below the fail level


# -- startapp, proven in a copy of the project -----------------------------------------

APP = "customer_feedback_entries"  # the longest name allowed: the worst case for line length


def copy_project(destination: Path) -> Path:
    # static/dist comes along: every page links the built CSS and scripts.
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", "*.db*")
    for path in ROOT.glob("*.py"):
        shutil.copy2(path, destination / path.name)
    for name in ("alembic.ini", "pyproject.toml"):
        shutil.copy2(ROOT / name, destination / name)
    for folder in (
        "admin",
        "alembic",
        "management",
        "fastmango",
        "routes",
        "services",
        "static",
        "templates",
    ):
        shutil.copytree(ROOT / folder, destination / folder, ignore=ignore)
    (destination / "tests").mkdir()
    # conftest.py and the helper modules it imports (fake servers, builders), no tests.
    for path in (ROOT / "tests").glob("*.py"):
        if not path.name.startswith("test_"):
            shutil.copy2(path, destination / "tests" / path.name)
    return destination


def tool(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / name), *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
async def test_startapp_scaffolds_a_working_app(
    tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    project = copy_project(tmp_path)
    result = await manage_py("startapp", APP, env=cli_env(), cwd=project)
    assert result.returncode == 0, result.stderr
    created = [
        f"routes/{APP}.py",
        f"services/{APP}_service.py",
        f"templates/{APP}/index.html",
        f"tests/test_{APP}.py",
    ]
    for path in created:
        assert (project / path).is_file(), path
        assert not (ROOT / path).exists(), f"{path} leaked into the real tree"
    routes_init = (project / "routes" / "__init__.py").read_text()
    imports = rf"^from routes import (?:\([^)]*\b{APP}\b[^)]*\)|[^\n]*\b{APP}\b)"
    assert re.search(imports, routes_init, re.MULTILINE)
    assert f"    {APP}.router,\n    # startapp: new routers go above this line" in routes_init
    assert '{% extends "base.html" %}' in (project / created[2]).read_text()

    python_files = [created[0], created[1], created[3], "routes/__init__.py"]
    lint = await asyncio.to_thread(tool, "ruff", "check", *python_files, cwd=project)
    assert lint.returncode == 0, lint.stdout
    formatted = await asyncio.to_thread(
        tool, "ruff", "format", "--check", *python_files, cwd=project
    )
    assert formatted.returncode == 0, formatted.stdout
    cache = str(pytestconfig.cache.mkdir("startapp-mypy")) if pytestconfig.cache else ".mypy"
    typed = await asyncio.to_thread(
        tool, "mypy", "--follow-imports=silent", "--cache-dir", cache, *python_files, cwd=project
    )
    assert typed.returncode == 0, typed.stdout
    # Its own temporary root: a second session under the default one would take access
    # to it away from this session's servers (see conftest.pg_server).
    inner = f"--basetemp={project.parent / 'inner-pytest'}"
    tested = await asyncio.to_thread(
        tool, "pytest", "-q", "-p", "no:cacheprovider", inner, created[3], cwd=project
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "2 passed" in tested.stdout

    again = await manage_py("startapp", APP, env=cli_env(), cwd=project)
    assert again.returncode == 1
    assert "Refusing to overwrite existing files" in again.stderr
    assert (project / "routes" / "__init__.py").read_text() == routes_init
