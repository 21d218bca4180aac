"""Annotated dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.templating import Jinja2Templates

from fastmango.accounts.auth import StrategyDep, UserManagerDep
from fastmango.accounts.auth_service import AuthService
from fastmango.db import Database, SessionDep
from fastmango.storage import Storage
from services import ProductService
from services.chat_service import ChatService
from services.search_service import SearchService
from settings import Settings


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
    return ProductService(request.app.state.cache, request.app.state.embeddings)


ProductServiceDep = Annotated[ProductService, Depends(get_product_service)]


async def get_search_service(request: Request) -> SearchService:
    state = request.app.state
    return SearchService(state.embeddings.embedder, state.vector_index)


# Semantic search with the app's embedding provider (503 when it is off or failing).
SearchServiceDep = Annotated[SearchService, Depends(get_search_service)]


async def get_chat_service(request: Request) -> ChatService:
    state = request.app.state
    settings: Settings = state.settings
    embedder = state.embeddings.embedder
    return ChatService(
        state.llm,
        state.chat_limiter,
        site_name=settings.site_name,
        history_budget=settings.chat_history_budget,
        # Answers cite catalogue products when semantic search is on.
        search=SearchService(embedder, state.vector_index) if embedder.enabled else None,
    )


ChatServiceDep = Annotated[ChatService, Depends(get_chat_service)]


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
    "ChatServiceDep",
    "DatabaseDep",
    "IdPath",
    "ProductServiceDep",
    "SearchServiceDep",
    "SessionDep",
    "SettingsDep",
    "StorageDep",
    "TemplatesDep",
]
