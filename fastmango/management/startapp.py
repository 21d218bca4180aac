"""`startapp NAME`: a route, a service, a template and a test, wired into routes/__init__.py."""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from fastmango.errors import ValidationError
from fastmango.management import scaffold
from fastmango.management.common import fail, info, load_settings, success

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
# Longer names push the generated lines past ruff's 100 columns.
MAX_NAME_LENGTH = 25
ROUTES_INIT = Path("routes") / "__init__.py"
MARKER = "# startapp: new routers go above this line"
IMPORT_LINE = re.compile(r"^from routes import (?:\(([^)]*)\)|([^\n]*))$", re.MULTILINE)
MAX_LINE = 100  # ruff's line-length in pyproject.toml


def target_files(name: str) -> dict[Path, str]:
    """Relative path -> content of every file the app needs."""
    return {
        Path("routes") / f"{name}.py": scaffold.render(scaffold.ROUTE, name),
        Path("services") / f"{name}_service.py": scaffold.render(scaffold.SERVICE, name),
        Path("templates") / name / "index.html": scaffold.render(scaffold.TEMPLATE, name),
        Path("tests") / f"test_{name}.py": scaffold.render(scaffold.TEST, name),
    }


def check_name(name: str) -> None:
    """Raise ValidationError unless `name` is a free, lowercase Python identifier."""
    if not NAME_PATTERN.fullmatch(name):
        raise ValidationError(
            f"{name!r} is not a valid app name: use lowercase letters, digits and "
            "underscores, starting with a letter (e.g. blog or blog_posts)."
        )
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"{name!r} is too long: use at most {MAX_NAME_LENGTH} characters.")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ValidationError(f"{name!r} is a Python keyword; choose another name.")
    # An app named like a module (json, models, fastapi ...) would shadow or be shadowed.
    if name in sys.stdlib_module_names or importlib.util.find_spec(name) is not None:
        raise ValidationError(
            f"{name!r} conflicts with the existing Python module {name!r}; choose another name."
        )


def _natural_key(name: str) -> list[int | str]:
    # ruff's isort orders `app2` before `app10`.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def wire_router(source: str, name: str) -> str:
    """routes/__init__.py with `name` imported (sorted, as ruff's isort wants) and listed."""
    match = IMPORT_LINE.search(source)
    marker_at = source.find(MARKER)
    if match is None or marker_at < 0:
        raise ValidationError(
            f"{ROUTES_INIT} needs a `from routes import ...` line and the comment "
            f"'{MARKER}' inside ROUTERS; add them, then run startapp again."
        )
    imported = [n for n in re.split(r"[\s,]+", match.group(1) or match.group(2)) if n]
    if name in imported:
        raise ValidationError(f"{name!r} is already imported in {ROUTES_INIT}.")
    names = sorted({*imported, name}, key=_natural_key)
    line = f"from routes import {', '.join(names)}"
    if len(line) > MAX_LINE:
        line = "from routes import (\n" + "".join(f"    {n},\n" for n in names) + ")"
    source = source[: match.start()] + line + source[match.end() :]
    marker_at = source.find(MARKER)
    line_start = source.rfind("\n", 0, marker_at) + 1
    indent = source[line_start:marker_at]
    return source[:line_start] + f"{indent}{name}.router,\n" + source[line_start:]


def create_app_files(base_dir: Path, name: str) -> list[Path]:
    """Write the app's files and wire its router; nothing is written if anything is in the way."""
    check_name(name)
    files = target_files(name)
    taken = [str(path) for path in files if (base_dir / path).exists()]
    if taken:
        raise ValidationError(f"Refusing to overwrite existing files: {', '.join(taken)}.")
    routes_init = base_dir / ROUTES_INIT
    wired = wire_router(routes_init.read_text(encoding="utf-8"), name)
    for path, content in files.items():
        (base_dir / path).parent.mkdir(parents=True, exist_ok=True)
        (base_dir / path).write_text(content, encoding="utf-8")
    routes_init.write_text(wired, encoding="utf-8")
    return [*files, ROUTES_INIT]


def startapp(
    name: Annotated[str, typer.Argument(help="The app's name: a lowercase Python identifier.")],
) -> None:
    """Create a new app: route, service, template and test, wired into the router list."""
    try:
        written = create_app_files(load_settings().base_dir, name)
    except ValidationError as exc:
        fail(exc.detail)
    for path in written:
        success(f"  {'updated' if path == ROUTES_INIT else 'created'} {path}")
    info(f"Run the server and open /{name}, or run its test: pytest tests/test_{name}.py")
