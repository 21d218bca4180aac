"""The app factory. `uvicorn main:app` serves `app`; tests call `create_app(settings)`."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from redis.asyncio import Redis

from fastmango import migrations
from fastmango.accounts.throttle import build_rate_limiter, build_throttle
from fastmango.admin import setup as admin_setup
from fastmango.apps import apps
from fastmango.cache import build_cache, cache
from fastmango.checks import ImproperlyConfigured, check_startup, startup_settings
from fastmango.db import Database
from fastmango.logging_setup import configure_logging
from fastmango.mail import build_mailer
from fastmango.storage import build_storage, mount_media
from fastmango.web import handlers, middleware
from fastmango.web.assets import Assets
from fastmango.web.static_files import CachedStaticFiles
from fastmango.web.templating import build_templates
from llm import LLMClient
from routes import ROUTERS
from services.embedding_service import EmbeddingQueue
from services.embeddings import build_embedder
from services.search_service import VectorIndex
from settings import BASE_DIR, Settings, get_settings

if TYPE_CHECKING:
    from starlette.types import ASGIApp

logger = logging.getLogger("fastmango")
# uvicorn's exit code for "failed before serving": its worker supervisor stops on it
# instead of starting the refused worker again and again.
STARTUP_FAILURE = 3


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: settings checked, one engine, one template environment, routes."""
    settings = settings or get_settings()
    check_startup(settings)
    configure_logging(settings)
    apps.populate(settings.installed_apps)  # models, admin classes, signal receivers
    database = Database(settings)
    # Created now, connected on first use; shared cache, throttling and sessions.
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    storage = build_storage(settings)
    # Products changed through the service or the admin are re-embedded in the background.
    embeddings = EmbeddingQueue(database, build_embedder(settings))
    llm = LLMClient(settings)  # its HTTP client opens with the lifespan

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.should_migrate_on_startup:
            logger.info("Applying migrations to %s", settings.safe_database_url)
            await migrations.upgrade(database, settings)
        await storage.start()
        await embeddings.start()
        await llm.start()
        if settings.environment != "test":
            # Everything built so far lives as long as the process: keep it out of the
            # collector's full passes (shorter pauses under load, see bench/results.md).
            # Not in tests, where many short-lived apps share one process.
            gc.collect()
            gc.freeze()
        yield
        await embeddings.stop()
        await llm.close()
        await database.dispose()
        await storage.close()
        if redis is not None:
            await redis.aclose()

    app = FastAPI(
        title=settings.site_name,
        debug=settings.debug,
        lifespan=lifespan,
        # The stock /docs pages load from a CDN; offline docs come with the API.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.assets = Assets(
        settings.base_dir / "static" / "dist" / "manifest.json", reload=settings.debug
    )
    app.state.templates = build_templates(settings, app.state.assets)

    app.state.redis = redis
    app.state.throttle = build_throttle(redis)
    app.state.cache = build_cache(redis)
    cache.configure(app.state.cache)  # `from fastmango.cache import cache` uses it too
    app.state.mailer = build_mailer(settings)
    app.state.storage = storage
    app.state.embeddings = embeddings
    app.state.vector_index = VectorIndex()  # SQLite's semantic ranking, cached per app
    app.state.llm = llm
    app.state.chat_limiter = build_rate_limiter(
        redis, settings.chat_rate_limit, what="chat messages"
    )

    handlers.install(app)
    middleware.install(app, settings, database)
    app.mount("/static", CachedStaticFiles(directory=BASE_DIR / "static"), name="static")
    mount_media(app, storage)  # local uploads under MEDIA_URL; S3 serves its own
    # The admin first: its templates call url_for a lot, and names resolve in route order.
    admin_setup.mount(app, settings, database)
    for router in ROUTERS:
        app.include_router(router)
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
