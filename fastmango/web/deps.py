"""Annotated dependencies for the framework's parts on `app.state` (fastapi's deps style).

async def read_item(database: DatabaseDep, templates: TemplatesDep) -> Response: ...
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.templating import Jinja2Templates

from fastmango.conf import BaseSettings
from fastmango.db import Database, SessionDep
from fastmango.storage import Storage


async def get_app_settings(request: Request) -> BaseSettings:
    settings: BaseSettings = request.app.state.settings
    return settings


async def get_templates(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


async def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


SettingsDep = Annotated[BaseSettings, Depends(get_app_settings)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
DatabaseDep = Annotated[Database, Depends(get_database)]
# The upload backend made at startup (local disk or S3): save, delete, url(name).
StorageDep = Annotated[Storage, Depends(get_storage)]
# A primary key in a path: a 4xx for anything no row can have, before any query.
IdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]

__all__ = [
    "DatabaseDep",
    "IdPath",
    "SessionDep",
    "SettingsDep",
    "StorageDep",
    "TemplatesDep",
]
