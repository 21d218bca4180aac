"""Annotated dependencies shared by the routes: the project's services, and the
framework's (re-exported, so a route imports every dependency from one place)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from fastmango.accounts.deps import AuthServiceDep
from fastmango.web.deps import DatabaseDep, IdPath, SessionDep, StorageDep, TemplatesDep
from services import ProductService
from services.chat_service import ChatService
from services.search_service import SearchService
from settings import Settings


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# The project's Settings (its own keys typed); the framework's parts have their own deps.
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


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
