"""`fastmango startproject`: a new project on the framework, run as its user would run it.

The project is written into a temporary folder, with only `fastmango` importable from
this checkout (none of the reference app's modules), then its migrations, its own
tests and its server run there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.servers import ROOT, free_port, running, server_env

pytestmark = pytest.mark.slow


def fastmango_only(tmp_path: Path) -> dict[str, str]:
    """An environment in which `import fastmango` works and nothing else of this repo does."""
    path = tmp_path / "site"
    path.mkdir()
    (path / "fastmango").symlink_to(ROOT / "fastmango", target_is_directory=True)
    return server_env(PYTHONPATH=str(path), PYTHONWARNINGS="error")


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("startproject")
    env = fastmango_only(base)
    created = run(
        ["-m", "fastmango", "startproject", "blogsite", str(base / "blogsite")], base, env
    )
    assert created.returncode == 0, created.stderr
    assert "Created blogsite" in created.stdout
    return base / "blogsite", env


def test_the_project_has_the_promised_files(project: tuple[Path, dict[str, str]]) -> None:
    folder, _env = project
    for name in (
        "manage.py", "main.py", "settings.py", "models.py", "example.env", "README.md",
        "Makefile", "Dockerfile", "fly.toml", "alembic.ini", "routes/__init__.py",
        "templates/base.html", "tests/test_site.py", ".gitignore",
    ):  # fmt: skip
        assert (folder / name).is_file(), name
    readme = (folder / "README.md").read_text()
    assert "make run" in readme
    assert "make test" in readme
    assert "$project_name" not in (folder / "settings.py").read_text()
    (migration,) = (folder / "alembic" / "versions").glob("*_initial.py")
    assert "op.create_table('users'" in migration.read_text()
    assert not (folder / "products").exists()  # no demo


def test_its_own_tests_pass(project: tuple[Path, dict[str, str]]) -> None:
    folder, env = project
    # A temporary root of its own: a second pytest session under the default root would
    # take access to it away from this session's PostgreSQL (see conftest.pg_server).
    inner = f"--basetemp={folder.parent / 'inner-pytest'}"
    result = run(["-m", "pytest", "-q", "-p", "no:cacheprovider", inner], folder, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_it_migrates_and_serves(project: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    folder, base_env = project
    env = base_env | {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}",
        "ENVIRONMENT": "development",
        "MIGRATE_ON_STARTUP": "false",
    }
    migrated = run(["manage.py", "migrate"], folder, env)
    assert migrated.returncode == 0, migrated.stderr
    help_text = run(["manage.py", "--help"], folder, env)
    assert "startapp" in help_text.stdout
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port)]
    with running(command, env, tmp_path / "server.log", port=port, cwd=folder) as server:
        assert httpx.get(f"{server.url}/health/ready").json()["database"] == "ok"
        admin = httpx.get(f"{server.url}/admin/login")
        assert admin.status_code == 303
        assert admin.headers["location"].startswith("/login")
        # The front end is not built here: the page says how, and is not an error.
        login = httpx.get(f"{server.url}/login")
        assert login.status_code == 200
        assert "make assets" in login.text


@pytest.mark.parametrize(
    ("name", "message"),
    [("Blog", "not a valid project name"), ("json", "hide"), ("class", "not a valid")],
)
def test_bad_names_are_refused(name: str, message: str, tmp_path: Path) -> None:
    result = run(["-m", "fastmango", "startproject", name], tmp_path, fastmango_only(tmp_path))
    assert result.returncode == 1
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "site"]


def test_a_folder_with_files_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    env = fastmango_only(tmp_path)
    result = run(
        ["-m", "fastmango", "startproject", "blog", str(tmp_path / "taken")], tmp_path, env
    )
    assert result.returncode == 1
    assert "not empty" in result.stderr
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["keep.txt"]
