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


class _Memo:
    """What both decorators share: the key of a call, and JSON in and out by annotation."""

    def __init__(self, function: Callable[..., Any], key: str | None) -> None:
        self.function = function
        self.key = key
        self.signature = inspect.signature(function)
        self._adapter: TypeAdapter[Any] | None = None

    @property
    def adapter(self) -> TypeAdapter[Any]:
        if self._adapter is None:  # annotations resolve once every name exists
            self._adapter = TypeAdapter(typing.get_type_hints(self.function)["return"])
        return self._adapter

    def cache_key(self, arguments: dict[str, Any]) -> str:
        if self.key is not None:
            return self.key.format(**arguments)
        where = f"{self.function.__module__}.{self.function.__qualname__}"
        name = f"{where}:{_dump(arguments)}"
        if len(name) > MAX_KEY_LENGTH:
            name = f"{where}:{hashlib.sha256(name.encode()).hexdigest()}"
        return name

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any], skip: int) -> dict[str, Any]:
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(list(bound.arguments.items())[skip:])

    async def call(
        self,
        backend: Cache,
        seconds: float,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        skip: int,
    ) -> Any:
        name = self.cache_key(self.arguments(args, kwargs, skip))
        raw = await backend.get(name)
        if raw is not None:
            return self.adapter.validate_python(raw)
        value = await self.function(*args, **kwargs)
        if value is not None:
            await backend.set(name, self.adapter.dump_python(value, mode="json"), seconds)
        return value


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
        memo = _Memo(method, key)

        @functools.wraps(method)
        async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            result: R = await memo.call(self.cache, timeout, (self, *args), kwargs, skip=1)
            return result

        return wrapper

    return decorator


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class CacheHandle:
    """Django's `from django.core.cache import cache`: the process's cache, whichever backend.

        from fastmango.cache import cache

        @cache.cached(timeout=300)
        async def top_products(limit: int = 10) -> list[ProductOut]: ...

        await cache.delete("key")

    The app's factory points it at the app's backend (memory, or Redis with REDIS_URL)
    with `configure`; until then it is an in-memory cache.
    """

    def __init__(self) -> None:
        self.backend: Cache = MemoryCache()

    def configure(self, backend: Cache) -> None:
        self.backend = backend

    async def get(self, key: str) -> Any | None:
        return await self.backend.get(key)

    async def set(self, key: str, value: Any, seconds: float) -> None:
        await self.backend.set(key, value, seconds)

    async def delete(self, *keys: str) -> None:
        await self.backend.delete(*keys)

    async def get_or_set(
        self, key: str, compute: Callable[[], Awaitable[Any]], seconds: float
    ) -> Any:
        return await get_or_set(self.backend, key, compute, seconds)

    def cached(self, timeout: float, key: str | None = None) -> Callable[[F], F]:
        """Cache an async function's result for `timeout` seconds (see `cached` for keys)."""

        def decorator(function: F) -> F:
            memo = _Memo(function, key)

            @functools.wraps(function)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                return await memo.call(self.backend, timeout, args, kwargs, skip=0)

            return typing.cast(F, wrapper)

        return decorator


cache = CacheHandle()
