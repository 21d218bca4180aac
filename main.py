"""The app factory. `uvicorn main:app` serves `app`; tests call `create_app(settings)`.

The framework builds the app (fastmango.web.application: settings checks, the installed
apps, one engine, templates, cache, mail, storage, middleware, the admin); the project
adds its routes and the AI services on `app.state`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from fastapi import FastAPI

from fastmango.accounts.throttle import build_rate_limiter
from fastmango.application import build_application
from fastmango.checks import ImproperlyConfigured, startup_settings
from llm import LLMClient
from routes import ROUTERS
from services.embedding_service import EmbeddingQueue
from services.embeddings import build_embedder
from services.search_service import VectorIndex
from settings import Settings, get_settings

if TYPE_CHECKING:
    from starlette.types import ASGIApp

# uvicorn's exit code for "failed before serving": its worker supervisor stops on it
# instead of starting the refused worker again and again.
STARTUP_FAILURE = 3


async def _start(app: FastAPI) -> None:
    await app.state.embeddings.start()
    await app.state.llm.start()


async def _stop(app: FastAPI) -> None:
    await app.state.embeddings.stop()
    await app.state.llm.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: the framework's parts, this project's routes and its AI services."""
    settings = settings or get_settings()
    app = build_application(settings, routers=ROUTERS, on_startup=[_start], on_shutdown=[_stop])
    state = app.state
    # Products changed through the service or the admin are re-embedded in the background.
    state.embeddings = EmbeddingQueue(state.db, build_embedder(settings))
    state.vector_index = VectorIndex()  # SQLite's semantic ranking, cached per app
    state.llm = LLMClient(settings)  # its HTTP client opens with the lifespan
    state.chat_limiter = build_rate_limiter(
        state.redis, settings.chat_rate_limit, what="chat messages"
    )
    return app


def __getattr__(name: str) -> ASGIApp:
    # `uvicorn main:app` builds the app on first access, so importing main has no effect.
    if name == "app":
        try:
            application = create_app(startup_settings(get_settings))
        except ImproperlyConfigured as exc:
            # Raised inside uvicorn's import of the app, whose traceback would bury the
            # reason: the same message as manage.py's, and a non-zero exit.
            print(f"Error: {exc}", file=sys.stderr)
            raise SystemExit(STARTUP_FAILURE) from None
        globals()["app"] = application
        return application
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
