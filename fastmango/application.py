"""The application factory every fastmango project builds on.

    def create_app(settings: Settings | None = None) -> FastAPI:
        settings = settings or get_settings()
        return build_application(settings, routers=ROUTERS)

It checks the settings, loads the installed apps, and wires one engine, one template
environment, the cache, mail, storage, login throttling, error pages, middleware,
static and media files and the admin. A project adds its own services with
`on_startup`/`on_shutdown` hooks and `app.state`.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from redis.asyncio import Redis

from fastmango import migrations
from fastmango.accounts.throttle import build_throttle
from fastmango.admin import setup as admin_setup
from fastmango.apps import apps
from fastmango.cache import build_cache, cache
from fastmango.checks import check_startup
from fastmango.conf import BaseSettings
from fastmango.db import Database
from fastmango.logging_setup import configure_logging
from fastmango.mail import build_mailer
from fastmango.static_files import CachedStaticFiles
from fastmango.storage import build_storage, mount_media
from fastmango.web import handlers, middleware
from fastmango.web.assets import Assets
from fastmango.web.templating import build_templates

logger = logging.getLogger("fastmango")
Hook = Callable[[FastAPI], Awaitable[None]]


def build_application(
    settings: BaseSettings,
    *,
    routers: Sequence[APIRouter],
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
) -> FastAPI:
    """A FastAPI app with the framework's parts on `app.state` and `routers` included."""
    check_startup(settings)
    configure_logging(settings)
    apps.populate(settings.installed_apps)  # models, admin classes, signal receivers
    database = Database(settings)
    # Created now, connected on first use; shared cache, throttling and sessions.
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    storage = build_storage(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.should_migrate_on_startup:
            logger.info("Applying migrations to %s", settings.safe_database_url)
            await migrations.upgrade(database, settings)
        await storage.start()
        for hook in on_startup:
            await hook(app)
        if settings.environment != "test":
            # Everything built so far lives as long as the process: keep it out of the
            # collector's full passes (shorter pauses under load, see bench/results.md).
            # Not in tests, where many short-lived apps share one process.
            gc.collect()
            gc.freeze()
        yield
        for hook in reversed(on_shutdown):
            await hook(app)
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
    state = app.state
    state.settings = settings
    state.db = database
    state.assets = Assets(
        settings.base_dir / "static" / "dist" / "manifest.json", reload=settings.debug
    )
    state.templates = build_templates(settings, state.assets)
    state.redis = redis
    state.throttle = build_throttle(redis)
    state.cache = build_cache(redis)
    cache.configure(state.cache)  # `from fastmango.cache import cache` uses it too
    state.mailer = build_mailer(settings)
    state.storage = storage

    handlers.install(app)
    middleware.install(app, settings, database)
    static = CachedStaticFiles(directory=settings.base_dir / "static")
    app.mount("/static", static, name="static")
    mount_media(app, storage)  # local uploads under MEDIA_URL; S3 serves its own
    # The admin first: its templates call url_for a lot, and names resolve in route order.
    admin_setup.mount(app, settings, database)
    for router in routers:
        app.include_router(router)
    return app
