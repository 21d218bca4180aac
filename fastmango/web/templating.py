"""The one Jinja2 environment, built at start-up, with the context every page needs."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from fastmango.apps import apps
from fastmango.conf import BaseSettings
from fastmango.web.assets import Assets
from fastmango.web.flash import pop_messages


def request_context(request: Request) -> dict[str, Any]:
    """What base.html needs on every page: the user, messages and the CSRF token."""
    return {
        "current_user": getattr(request.state, "user", None),
        "messages": pop_messages(request),
        "csrf_token": getattr(request.state, "csrf_token", ""),
    }


def template_dirs(settings: BaseSettings) -> list[Path]:
    """Where templates are looked up, first match wins (Django's APP_DIRS): the project's
    `templates/`, then each installed app's `templates/` folder, then the framework's."""
    dirs = [settings.base_dir / "templates"]
    for config in apps:
        module = importlib.import_module(config.name) if config.name else None
        folder = Path(module.__file__).parent / "templates" if module and module.__file__ else None
        if folder is not None and folder.is_dir():
            dirs.append(folder)
    dirs.append(Path(__file__).resolve().parent / "templates")
    return dirs


def build_templates(settings: BaseSettings, assets: Assets) -> Jinja2Templates:
    templates = Jinja2Templates(
        directory=template_dirs(settings), context_processors=[request_context]
    )
    # Outside DEBUG, templates do not change while the app runs: no stat() per render.
    templates.env.auto_reload = settings.debug
    # Values fixed for the life of the app are globals, not per-request processors.
    templates.env.globals.update(
        site_name=settings.site_name,
        debug=settings.debug,
        asset=assets.url,
        assets_missing=assets.missing,
    )
    return templates


def wants_partial(request: Request) -> bool:
    """HTMX asks for a fragment (not a whole page) with the HX-Request header.

    Not when it restores history after a cache miss: then it needs the whole page.
    """
    headers = request.headers
    return (
        headers.get("HX-Request") == "true" and headers.get("HX-History-Restore-Request") != "true"
    )


def render_page(
    templates: Jinja2Templates,
    request: Request,
    page: str,
    partial: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> Response:
    """The whole page, or only its changing part for HTMX; the same URL serves both."""
    name = partial if wants_partial(request) else page
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    # Caches must keep the fragment and the page apart.
    response.headers["Vary"] = "HX-Request"
    return response
