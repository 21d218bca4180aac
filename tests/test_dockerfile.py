"""The Dockerfile without a Docker engine: hadolint, then the image's own steps in a temporary
directory (the build context as `.dockerignore` leaves it, the asset build, the install into a
fresh uv virtualenv, the start command and the HEALTHCHECK), and the platform files agree.

What cannot run here is said where it is skipped: `npm install` (the repository's node_modules,
installed by the same command, stands in), the uv binary copied from its image (ours is the
same version), and creating the system user.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.servers import ROOT, SERVER_SECRET_KEY, Server, free_port, running, server_env

DOCKERFILE = ROOT / "Dockerfile"
BIN = Path(sys.executable).parent


@dataclass
class Stage:
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [rest for word, rest in self.instructions if word == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    joined = re.sub(r"\\\n\s*", " ", text)  # continuation lines
    stages: list[Stage] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append(Stage(rest.split(" AS ")[-1] if " AS " in rest else rest))
        stages[-1].instructions.append((keyword.upper(), rest.strip()))
    return stages


def docker_ignore_patterns() -> list[tuple[str, bool]]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return [(p.removeprefix("!").strip("/"), p.startswith("!")) for p in patterns]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    # Docker's rules: `*` and `?` stay within one path segment, `**` spans any number.
    regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
    regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    return re.compile(regex)


def ignored(relative: str, patterns: list[tuple[str, bool]]) -> bool:
    """Docker's .dockerignore: a pattern excludes a path or any of its parent directories."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern, negated in patterns:
        regex = _pattern_regex(pattern)
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            result = not negated
    return result


def copy_context(destination: Path) -> list[str]:
    """Copy the build context as Docker sends it; the relative paths copied."""
    patterns = docker_ignore_patterns()
    copied = []
    for folder, dirs, files in os.walk(ROOT):
        base = Path(folder).relative_to(ROOT)
        dirs[:] = [d for d in dirs if not ignored((base / d).as_posix(), patterns)]
        for name in files:
            relative = (base / name).as_posix()
            if ignored(relative, patterns):
                continue
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, target)
            copied.append(relative)
    return copied


def command_of(rest: str) -> str:
    """A RUN's shell command without its leading flags (`--mount=...`)."""
    words = rest.split(" ")
    while words and words[0].startswith("--"):
        words.pop(0)
    return " ".join(words)


def test_hadolint_passes() -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_context_holds_only_what_runs(tmp_path: Path) -> None:
    copied = set(copy_context(tmp_path))
    for needed in ("main.py", "manage.py", "requirements/base.lock", "package-lock.json"):
        assert needed in copied
    assert any(path.startswith("alembic/versions/") for path in copied)
    assert any(path.startswith("templates/") for path in copied)
    for path in copied:
        top = path.split("/")[0]
        assert top not in {".git", ".venv", "node_modules", "tests", "bench", "var", ".ci"}, path
        assert not path.startswith("static/dist/"), path
        assert "__pycache__" not in path, path
        assert not re.search(r"(^|/)\.env$|\.db$", path), path
    size = sum((tmp_path / path).stat().st_size for path in copied)
    assert size < 20 * 1024 * 1024


def test_uv_in_the_image_is_ours() -> None:
    runtime = parse_dockerfile(DOCKERFILE.read_text())[-1]
    tags = [re.search(r"astral-sh/uv:([\d.]+)", c) for c in runtime.all("COPY")]
    version = next(tag.group(1) for tag in tags if tag)
    ours = subprocess.run([str(BIN / "uv"), "--version"], capture_output=True, text=True)
    assert ours.stdout.split()[1] == version


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """The image's steps, run in order in a temporary 'filesystem'."""
    root = tmp_path_factory.mktemp("image")
    app, venv, data = root / "app", root / "opt-venv", root / "data"
    data.mkdir()
    assets, runtime = parse_dockerfile(DOCKERFILE.read_text())

    def local(text: str) -> str:
        text = re.sub(r"/opt/venv\b", str(venv), text)
        return re.sub(r"(?<![\w.])/data\b", str(data), text)

    # Stage 1 (assets): the context, node_modules from `npm install`, then the build command.
    copy_context(app)
    (app / "node_modules").symlink_to(ROOT / "node_modules")
    build = command_of(assets.all("RUN")[-1])
    assert build == "node fastmango/web/build-assets.mjs"
    subprocess.run(["sh", "-c", build], cwd=app, check=True, capture_output=True)
    (app / "node_modules").unlink()

    # Stage 2 (runtime): its ENV, then its RUN steps, with our uv (same version).
    env = server_env(UV_PYTHON=sys.executable, UV_OFFLINE="1")
    env["PATH"] = f"{BIN}:{env['PATH']}"  # where `uv` is, as /usr/local/bin in the image
    for rest in runtime.all("ENV"):
        for pair in shlex.split(rest):
            key, _, value = pair.partition("=")
            env[key] = local(re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), ""), value))
    for rest in runtime.all("RUN"):
        command = command_of(rest)
        if "useradd" in command:
            continue  # creating the system user needs root and a throwaway system
        done = subprocess.run(["sh", "-c", local(command)], cwd=app, env=env, capture_output=True)
        assert done.returncode == 0, done.stdout + done.stderr

    # Run: the secrets a platform would inject, a free port, then the image's CMD.
    port = free_port()
    env |= {
        "SECRET_KEY": SERVER_SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PORT": str(port),
        "SUPERUSER_EMAIL": "first@example.com",
        "SUPERUSER_PASSWORD": "a-long-superuser-passphrase-7",
        "EMAIL_BACKEND": "memory",
    }
    command = json.loads(runtime.all("CMD")[-1])
    with running(command, env, root / "server.log", port=port, cwd=app) as server:
        yield server, root


def healthcheck_command() -> list[str]:
    rest = parse_dockerfile(DOCKERFILE.read_text())[-1].all("HEALTHCHECK")[-1]
    command: list[str] = json.loads(rest.split(" CMD ", 1)[1])
    return command


@pytest.mark.slow
def test_image_steps_install_and_serve(image: tuple[Server, Path]) -> None:
    server, root = image
    venv_python = root / "opt-venv" / "bin" / "python"
    assert venv_python.exists()
    installed = subprocess.run(
        [str(BIN / "uv"), "pip", "list", "--python", str(venv_python), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {row["name"].lower() for row in json.loads(installed.stdout)}
    assert {"fastapi", "uvicorn", "asyncpg"} <= names
    assert not names & {"pytest", "ruff", "mypy", "playwright"}  # only the runtime lock

    ready = httpx.get(f"{server.url}/health/ready")
    assert ready.json() == {"status": "ok", "database": "ok"}
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    for asset in re.findall(r'(?:src|href)="(/static/dist/[^"]+)"', page.text):
        assert httpx.get(server.url + asset).status_code == 200, asset
    assert (root / "data" / "fastmango.db").exists()  # SQLite on the volume

    health = subprocess.run(
        healthcheck_command(),
        env=server_env(PORT=server.url.rsplit(":", 1)[1], PATH=f"{venv_python.parent}:/usr/bin"),
        capture_output=True,
        check=False,
    )
    assert health.returncode == 0, health.stderr
    log = server.log()
    assert "Superuser first@example.com created." in log
    assert all(line.startswith("{") for line in log.splitlines() if line), log


def test_fly_and_railway_agree_with_the_image() -> None:
    runtime = parse_dockerfile(DOCKERFILE.read_text())[-1]
    env_line = " ".join(runtime.all("ENV"))
    cmd = json.loads(runtime.all("CMD")[-1])
    assert "PORT=8000" in env_line
    assert runtime.all("EXPOSE") == ["8000"]
    assert "/health/ready" in runtime.all("HEALTHCHECK")[-1]

    fly = tomllib.loads((ROOT / "fly.toml").read_text())
    assert fly["http_service"]["internal_port"] == 8000
    assert fly["env"]["PORT"] == "8000"
    assert [check["path"] for check in fly["http_service"]["checks"]] == ["/health/ready"]
    assert fly["deploy"]["release_command"] == "python manage.py prestart"
    assert fly["mounts"]["destination"] == "/data"  # where the image keeps SQLite and media
    assert "sqlite+aiosqlite:////data/" in env_line
    secretive = re.compile(r"SECRET|PASSWORD|KEY|TOKEN|DATABASE_URL|REDIS_URL")
    assert not [name for name in fly["env"] if secretive.search(name)]

    railway = json.loads((ROOT / "railway.json").read_text())
    assert railway["build"] == {"builder": "DOCKERFILE", "dockerfilePath": "Dockerfile"}
    assert railway["deploy"]["healthcheckPath"] == "/health/ready"
    assert shlex.split(railway["deploy"]["startCommand"]) == cmd
    assert railway["deploy"]["preDeployCommand"] == ["python manage.py prestart"]
