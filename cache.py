"""A small Django-style cache: `get`, `set`, `delete`, `get_or_set`, with an expiry.

In memory for one process, or in Redis (shared by every instance) when REDIS_URL is
set. Values are JSON, so both backends keep exactly the same things.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from redis.asyncio import Redis

PREFIX = "fastmango:cache:"


class Cache(Protocol):
    async def get(self, key: str) -> Any | None: ...
    async def set(self, key: str, value: Any, seconds: float) -> None: ...
    async def delete(self, *keys: str) -> None: ...


def _dump(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


class MemoryCache:
    """Per-process entries with an expiry time; expired ones are dropped on read."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, str]] = {}

    async def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, raw = entry
        if expires < time.monotonic():
            self._entries.pop(key, None)
            return None
        return json.loads(raw)

    async def set(self, key: str, value: Any, seconds: float) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # a crude bound; entries are cheap to recompute
        self._entries[key] = (time.monotonic() + seconds, _dump(value))

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)


class RedisCache:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, key: str) -> Any | None:
        raw = await self.redis.get(PREFIX + key)
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value: Any, seconds: float) -> None:
        await self.redis.set(PREFIX + key, _dump(value), px=max(1, int(seconds * 1000)))

    async def delete(self, *keys: str) -> None:
        if keys:
            await self.redis.delete(*(PREFIX + key for key in keys))


async def get_or_set(
    cache: Cache, key: str, compute: Callable[[], Awaitable[Any]], seconds: float
) -> Any:
    """The cached value, or `compute()`'s, stored for `seconds` seconds."""
    value = await cache.get(key)
    if value is None:
        value = await compute()
        await cache.set(key, value, seconds)
    return value


def build_cache(redis: Redis | None) -> Cache:
    return RedisCache(redis) if redis is not None else MemoryCache()
