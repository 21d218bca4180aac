"""Expiry without waiting on the wall clock: a clock the test moves for the memory cache;
Redis expires keys on its own clock, so there the test waits for the expiry itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastmango.cache import Cache, MemoryCache

CEILING = 60.0  # seconds Redis gets to expire a key that should be gone in under one


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fake_clock(cache: Cache) -> FakeClock | None:
    """Give a memory cache a clock the test moves; None for Redis, which keeps its own."""
    if isinstance(cache, MemoryCache):
        clock = FakeClock()
        cache.clock = clock
        return clock
    return None


async def outlive(
    clock: FakeClock | None, seconds: float, expired: Callable[[], Awaitable[bool]]
) -> None:
    """Let `seconds` pass for the cache: the fake clock jumps; without one (Redis), wait
    until `expired()` says the entry is gone, however long the machine takes."""
    if clock is not None:
        clock.advance(seconds)
        return
    async with asyncio.timeout(CEILING):
        # Redis's expiry has no event to await here (keyspace notifications would mean
        # reconfiguring the shared test server): ask until it is done, within the ceiling.
        while not await expired():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
