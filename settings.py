"""The project's settings: fastmango's `BaseSettings` plus this app's own keys.

Read from the environment and `.env`, once, by `get_settings()`; `example.env`
documents every key.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr

from fastmango.conf import DEFAULT_APPS, BaseSettings, CommaList

BASE_DIR = Path(__file__).resolve().parent


class Settings(BaseSettings):
    """fastmango's settings with this project's paths and its AI keys."""

    base_dir: Path = BASE_DIR
    installed_apps: CommaList = Field(
        default_factory=lambda: [*DEFAULT_APPS, "apps.CatalogueConfig"]
    )
    database_url: str = f"sqlite+aiosqlite:///{BASE_DIR / 'fastmango.db'}"

    # LLM and embeddings (OpenAI-compatible endpoints; defaults suit OpenRouter)
    llm_base_url: str = "https://openrouter.ai/api/v1"
    llm_api_key: SecretStr | None = None
    llm_model: str = "openai/gpt-4o-mini"
    # Seconds to connect and the longest silence within an answer (a stalled stream is cut).
    llm_timeout: float = Field(default=30.0, gt=0, le=600)
    # Characters of earlier messages sent with each turn (about 4 a token); oldest go first.
    chat_history_budget: int = Field(default=12_000, ge=100)
    chat_rate_limit: int = Field(default=10, ge=1)  # messages per minute per user
    # Semantic search: none (off), local (the `ai` extra) or openai (an OpenAI-compatible
    # /embeddings endpoint; base URL and key default to the LLM's). 384-dimension vectors.
    embedding_provider: Literal["none", "local", "openai"] = "none"
    embedding_base_url: str | None = None
    embedding_api_key: SecretStr | None = None
    embedding_model: str = "text-embedding-3-small"
    embedding_timeout: float = Field(default=10.0, gt=0, le=300)  # seconds per request

    @property
    def llm_configured(self) -> bool:
        """Chat can run: a base URL, and a key unless the server is on this machine."""
        if not self.llm_base_url:
            return False
        host = urlsplit(self.llm_base_url).hostname or ""
        has_key = bool(self.llm_api_key and self.llm_api_key.get_secret_value())
        return has_key or host in {"localhost", "127.0.0.1", "::1"}


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
