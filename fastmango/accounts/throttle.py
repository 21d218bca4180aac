"""Login throttling: after N failures for one account or one IP in a window, refuse with 429;
and RateLimiter, the same sliding window for any per-key limit (chat messages per user).

Counts live in memory (one process) or in Redis (shared by every instance) when
REDIS_URL is set. A success clears the account's count, not the IP's.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Protocol

from redis.asyncio import Redis

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


class Throttled(Exception):
    """Too many failures; `retry_after` seconds until the oldest one leaves the window."""

    def __init__(self, retry_after: int, what: str = "failed attempts") -> None:
        super().__init__(f"Too many {what}; retry in {retry_after} s")
        self.retry_after = retry_after


class FailureStore(Protocol):
    async def failures(self, key: str, now: float) -> list[float]: ...
    async def add(self, key: str, now: float) -> None: ...
    async def clear(self, key: str) -> None: ...


class MemoryStore:
    """Per-process timestamps of failures (enough for a single instance)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._events: dict[str, deque[float]] = {}

    def _trim(self, key: str, now: float) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if not events:
            del self._events[key]  # no unbounded growth from one-off keys
            return deque()
        return events

    async def failures(self, key: str, now: float) -> list[float]:
        return list(self._trim(key, now))

    async def add(self, key: str, now: float) -> None:
        self._trim(key, now)
        self._events.setdefault(key, deque()).append(now)

    async def clear(self, key: str) -> None:
        self._events.pop(key, None)


class RedisStore:
    """Failures as a sorted set per key, trimmed to the window and expiring with it."""

    def __init__(self, redis: Redis, window: float, prefix: str = "fastmango:throttle:") -> None:
        self.redis = redis
        self.window = window
        self.prefix = prefix

    async def failures(self, key: str, now: float) -> list[float]:
        name = self.prefix + key
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(name, 0, now - self.window)
            pipe.zrange(name, 0, -1, withscores=True)
            _, members = await pipe.execute()
        return [float(score) for _member, score in members]

    async def add(self, key: str, now: float) -> None:
        name = self.prefix + key
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(name, {f"{now:.6f}:{time.monotonic_ns()}": now})
            pipe.expire(name, math.ceil(self.window))
            await pipe.execute()

    async def clear(self, key: str) -> None:
        await self.redis.delete(self.prefix + key)


class LoginThrottle:
    """Checks and records login failures by account and by client IP."""

    def __init__(
        self,
        store: FailureStore,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self.store = store
        self.max_failures = max_failures
        self.window = window

    @staticmethod
    def keys(email: str, ip: str) -> tuple[str, str]:
        return f"account:{email.strip().lower()}", f"ip:{ip}"

    async def check(self, email: str, ip: str) -> None:
        """Raise Throttled when the account or the IP is over the limit."""
        now = time.time()
        waits = []
        for key in self.keys(email, ip):
            failures = await self.store.failures(key, now)
            if len(failures) >= self.max_failures:
                waits.append(failures[-self.max_failures] + self.window - now)
        if waits:
            raise Throttled(max(1, math.ceil(max(waits))))

    async def failed(self, email: str, ip: str) -> None:
        now = time.time()
        for key in self.keys(email, ip):
            await self.store.add(key, now)

    async def succeeded(self, email: str) -> None:
        account_key, _ = self.keys(email, "")
        await self.store.clear(account_key)


class RateLimiter:
    """At most `limit` events per key in any `window` seconds (a sliding window, kept in
    the same stores as login failures); one more raises Throttled."""

    def __init__(self, store: FailureStore, limit: int, window: float, what: str) -> None:
        self.store = store
        self.limit = limit
        self.window = window
        self.what = what

    async def hit(self, key: str) -> None:
        """Count one event for `key`, or raise Throttled (not counted) when over the limit."""
        now = time.time()
        events = await self.store.failures(key, now)
        if len(events) >= self.limit:
            wait = events[-self.limit] + self.window - now
            raise Throttled(max(1, math.ceil(wait)), self.what)
        await self.store.add(key, now)


def build_rate_limiter(
    redis: Redis | None, limit: int, *, window: float = 60, what: str = "requests"
) -> RateLimiter:
    store: FailureStore = (
        RedisStore(redis, window, prefix="fastmango:ratelimit:") if redis else MemoryStore(window)
    )
    return RateLimiter(store, limit, window, what)


def build_throttle(redis: Redis | None) -> LoginThrottle:
    store: FailureStore = (
        RedisStore(redis, WINDOW_SECONDS) if redis else MemoryStore(WINDOW_SECONDS)
    )
    return LoginThrottle(store)
