"""The cache: the same behaviour in memory and in a real Redis."""

from __future__ import annotations

from redis.asyncio import Redis

from fastmango.cache import PREFIX, Cache, RedisCache, get_or_set
from tests.clock import fake_clock, outlive

HOUR = 3600  # an expiry no test outlives unless it moves the clock


async def test_set_get_delete_and_expiry(cache: Cache) -> None:
    clock = fake_clock(cache)
    assert await cache.get("missing") is None
    await cache.set("stats", {"count": 3, "price": "1.50"}, seconds=HOUR)
    assert await cache.get("stats") == {"count": 3, "price": "1.50"}
    await cache.set("brief", "soon gone", seconds=0.3)

    async def brief_gone() -> bool:
        return await cache.get("brief") is None

    await outlive(clock, 0.3, brief_gone)
    assert await cache.get("brief") is None
    assert await cache.get("stats") == {"count": 3, "price": "1.50"}
    if clock is not None:
        clock.advance(HOUR)
        assert await cache.get("stats") is None
    await cache.set("a", [1, 2], seconds=60)
    await cache.set("b", "x", seconds=60)
    await cache.delete("a", "b", "never-set")
    assert await cache.get("a") is None
    assert await cache.get("b") is None


async def test_redis_keeps_the_expiry_asked_for(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        await RedisCache(redis).set("stats", 1, seconds=HOUR)
        remaining = await redis.pttl(PREFIX + "stats")
        assert 0 < remaining <= HOUR * 1000
    finally:
        await redis.aclose()


async def test_get_or_set_computes_once(cache: Cache) -> None:
    calls = 0

    async def compute() -> list[str]:
        nonlocal calls
        calls += 1
        return ["Books", "Tools"]

    for _ in range(3):
        assert await get_or_set(cache, "categories", compute, seconds=60) == ["Books", "Tools"]
    assert calls == 1
