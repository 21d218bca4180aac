"""A small Django-style cache: `get`, `set`, `delete`, `get_or_set`, with an expiry, and
the `@cached(timeout=...)` decorator for service methods.

In memory for one process, or in Redis (shared by every instance) when REDIS_URL is
set. Values are JSON, so both backends keep exactly the same things.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import time
import typing
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from pydantic import TypeAdapter
from redis.asyncio import Redis

PREFIX = "fastmango:cache:"


class Cache(Protocol):
    async def get(self, key: str) -> Any | None: ...
    async def set(self, key: str, value: Any, seconds: float) -> None: ...
    async def delete(self, *keys: str) -> None: ...


def _dump(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


class MemoryCache:
    """Per-process entries with an expiry time; expired ones are dropped on read.

    `clock` (seconds, monotonic) is what expiry is measured with; tests pass their own.
    """

    def __init__(
        self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, tuple[float, str]] = {}

    async def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, raw = entry
        if expires <= self.clock():
            self._entries.pop(key, None)
            return None
        return json.loads(raw)

    async def set(self, key: str, value: Any, seconds: float) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # a crude bound; entries are cheap to recompute
        self._entries[key] = (self.clock() + seconds, _dump(value))

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


class HasCache(Protocol):
    cache: Cache


S = TypeVar("S", bound=HasCache)
P = ParamSpec("P")
R = TypeVar("R")
Method = Callable[Concatenate[S, P], Awaitable[R]]
MAX_KEY_LENGTH = 200


def cached(timeout: float, key: str | None = None) -> Callable[[Method[S, P, R]], Method[S, P, R]]:
    """Cache an async method's result in its object's `cache` for `timeout` seconds.

        class ProductService:
            @cached(timeout=60, key="product:{product_id}")
            async def summary(self, product_id: int) -> ProductSummary: ...

    The key is `key` formatted with the call's arguments, or the method's name and
    its arguments (hashed when long); drop an entry with `cache.delete(key)`. The
    value is stored as JSON through the return annotation (pydantic models, Decimal,
    datetime... come back as themselves), so a hit and a miss return the same thing
    on every instance. A None result is not cached.
    """

    def decorator(method: Method[S, P, R]) -> Method[S, P, R]:
        signature = inspect.signature(method)
        adapter: TypeAdapter[R] | None = None

        def cache_key(arguments: dict[str, Any]) -> str:
            if key is not None:
                return key.format(**arguments)
            name = f"{method.__module__}.{method.__qualname__}:{_dump(arguments)}"
            if len(name) > MAX_KEY_LENGTH:
                digest = hashlib.sha256(name.encode()).hexdigest()
                name = f"{method.__module__}.{method.__qualname__}:{digest}"
            return name

        @functools.wraps(method)
        async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            nonlocal adapter
            if adapter is None:  # annotations resolve once every name exists
                adapter = TypeAdapter(typing.get_type_hints(method)["return"])
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(list(bound.arguments.items())[1:])  # without self
            name = cache_key(arguments)
            raw = await self.cache.get(name)
            if raw is not None:
                return adapter.validate_python(raw)
            value = await method(self, *args, **kwargs)
            if value is not None:
                await self.cache.set(name, adapter.dump_python(value, mode="json"), timeout)
            return value

        return wrapper

    return decorator
