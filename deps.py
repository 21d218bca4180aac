"""Annotated dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.templating import Jinja2Templates

from auth import StrategyDep, UserManagerDep
from db import Database, SessionDep
from services import ProductService
from services.auth_service import AuthService
from settings import Settings
from storage import Storage


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_templates(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


async def get_auth_service(
    request: Request, manager: UserManagerDep, strategy: StrategyDep
) -> AuthService:
    state = request.app.state
    return AuthService(manager, strategy, state.throttle, state.mailer)


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


async def get_product_service(request: Request) -> ProductService:
    return ProductService(request.app.state.cache)


ProductServiceDep = Annotated[ProductService, Depends(get_product_service)]


async def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


# The upload backend made at startup (local disk or S3): save, delete, url(name).
StorageDep = Annotated[Storage, Depends(get_storage)]
# A primary key in a path: a 4xx for anything no row can have, before any query.
IdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
DatabaseDep = Annotated[Database, Depends(get_database)]

__all__ = [
    "AuthServiceDep",
    "DatabaseDep",
    "IdPath",
    "ProductServiceDep",
    "SessionDep",
    "SettingsDep",
    "StorageDep",
    "TemplatesDep",
]
