"""Login throttling: after N failures for one account or one IP in a window, refuse with 429;
and RateLimiter, the same sliding window for any per-key limit (chat messages per user).

An attempt is *reserved* before the password is checked, in one atomic step per
store, and counts as a failure unless the login succeeds: many guesses sent at
once cannot all pass a check made before any of them failed. Counts live in
memory (one process) or in Redis (shared by every instance) when REDIS_URL is set.
A success clears the account's count and gives back its own reservation on the IP.
"""

from __future__ import annotations

import math
import secrets
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


class Throttled(Exception):
    """Too many failures; `retry_after` seconds until the oldest one leaves the window."""

    def __init__(self, retry_after: int, what: str = "failed attempts") -> None:
        super().__init__(f"Too many {what}; retry in {retry_after} s")
        self.retry_after = retry_after


class EventStore(Protocol):
    async def reserve(
        self, keys: Sequence[str], member: str, limit: int, now: float
    ) -> float | None:
        """Record `member` under every key if each has fewer than `limit` events in the
        window, as one atomic step; else record nothing and return the seconds until a
        slot frees (None means recorded)."""
        ...

    async def release(self, key: str, member: str) -> None: ...
    async def clear(self, key: str) -> None: ...


class MemoryStore:
    """Per-process event timestamps (enough for a single instance).

    `reserve` never awaits, so on one event loop it is atomic by construction.
    """

    def __init__(self, window: float) -> None:
        self.window = window
        self._events: dict[str, deque[tuple[float, str]]] = {}

    def _trim(self, key: str, now: float) -> deque[tuple[float, str]]:
        events = self._events.get(key, deque())
        while events and events[0][0] <= now - self.window:
            events.popleft()
        if not events:
            self._events.pop(key, None)  # no unbounded growth from one-off keys
        return events

    async def reserve(
        self, keys: Sequence[str], member: str, limit: int, now: float
    ) -> float | None:
        waits = [
            events[-limit][0] + self.window - now
            for events in (self._trim(key, now) for key in keys)
            if len(events) >= limit
        ]
        if waits:
            return max(waits)
        for key in keys:
            self._events.setdefault(key, deque()).append((now, member))
        return None

    async def release(self, key: str, member: str) -> None:
        events = self._events.get(key)
        if events is not None:
            self._events[key] = deque(event for event in events if event[1] != member)

    async def clear(self, key: str) -> None:
        self._events.pop(key, None)


# Check every key, then add to every key, inside Redis: no other client runs between.
_RESERVE = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local wait = 0
for _, key in ipairs(KEYS) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    if redis.call('ZCARD', key) >= limit then
        local oldest = redis.call('ZRANGE', key, -limit, -limit, 'WITHSCORES')
        wait = math.max(wait, tonumber(oldest[2]) + window - now)
    end
end
if wait > 0 then
    return tostring(wait)
end
for _, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, ARGV[4])
    redis.call('EXPIRE', key, math.ceil(window))
end
return false
"""


class RedisStore:
    """Events as a sorted set per key (member: the attempt, score: its time), trimmed to
    the window and expiring with it."""

    def __init__(self, redis: Redis, window: float, prefix: str = "fastmango:throttle:") -> None:
        self.redis = redis
        self.window = window
        self.prefix = prefix
        self._reserve = redis.register_script(_RESERVE)

    async def reserve(
        self, keys: Sequence[str], member: str, limit: int, now: float
    ) -> float | None:
        names = [self.prefix + key for key in keys]
        wait = await self._reserve(keys=names, args=[f"{now:.6f}", self.window, limit, member])
        return None if wait is None else float(wait)

    async def release(self, key: str, member: str) -> None:
        await self.redis.zrem(self.prefix + key, member)

    async def clear(self, key: str) -> None:
        await self.redis.delete(self.prefix + key)


@dataclass(frozen=True)
class Attempt:
    """A reserved login attempt: counted as a failure unless `succeeded` is called."""

    account_key: str
    ip_key: str
    member: str


class LoginThrottle:
    """Reserves login attempts by account and by client IP; refuses over the limit."""

    def __init__(
        self,
        store: EventStore,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self.store = store
        self.max_failures = max_failures
        self.window = window

    @staticmethod
    def keys(email: str, ip: str) -> tuple[str, str]:
        return f"account:{email.strip().lower()}", f"ip:{ip}"

    async def reserve(self, email: str, ip: str) -> Attempt:
        """Count one attempt for the account and the IP before the password is checked;
        raise Throttled (nothing counted) when either is at the limit."""
        account_key, ip_key = self.keys(email, ip)
        attempt = Attempt(account_key, ip_key, secrets.token_hex(8))
        wait = await self.store.reserve(
            (account_key, ip_key), attempt.member, self.max_failures, time.time()
        )
        if wait is not None:
            raise Throttled(max(1, math.ceil(wait)))
        return attempt

    async def succeeded(self, attempt: Attempt) -> None:
        """Forget the account's failures; the IP keeps its others, only this one is freed."""
        await self.store.clear(attempt.account_key)
        await self.store.release(attempt.ip_key, attempt.member)


class RateLimiter:
    """At most `limit` events per key in any `window` seconds (a sliding window, kept in
    the same stores as login attempts); one more raises Throttled."""

    def __init__(self, store: EventStore, limit: int, window: float, what: str) -> None:
        self.store = store
        self.limit = limit
        self.window = window
        self.what = what

    async def hit(self, key: str) -> None:
        """Count one event for `key`, or raise Throttled (not counted) when over the limit."""
        wait = await self.store.reserve((key,), secrets.token_hex(8), self.limit, time.time())
        if wait is not None:
            raise Throttled(max(1, math.ceil(wait)), self.what)


def build_rate_limiter(
    redis: Redis | None, limit: int, *, window: float = 60, what: str = "requests"
) -> RateLimiter:
    store: EventStore = (
        RedisStore(redis, window, prefix="fastmango:ratelimit:") if redis else MemoryStore(window)
    )
    return RateLimiter(store, limit, window, what)


def build_throttle(redis: Redis | None) -> LoginThrottle:
    store: EventStore = RedisStore(redis, WINDOW_SECONDS) if redis else MemoryStore(WINDOW_SECONDS)
    return LoginThrottle(store)
