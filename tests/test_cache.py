"""The cache: the same behaviour in memory and in a real Redis."""

from __future__ import annotations

import asyncio

from fastmango.cache import Cache, get_or_set


async def test_set_get_delete_and_expiry(cache: Cache) -> None:
    assert await cache.get("missing") is None
    await cache.set("stats", {"count": 3, "price": "1.50"}, seconds=0.3)
    assert await cache.get("stats") == {"count": 3, "price": "1.50"}
    await asyncio.sleep(0.4)
    assert await cache.get("stats") is None
    await cache.set("a", [1, 2], seconds=60)
    await cache.set("b", "x", seconds=60)
    await cache.delete("a", "b", "never-set")
    assert await cache.get("a") is None
    assert await cache.get("b") is None


async def test_get_or_set_computes_once(cache: Cache) -> None:
    calls = 0

    async def compute() -> list[str]:
        nonlocal calls
        calls += 1
        return ["Books", "Tools"]

    for _ in range(3):
        assert await get_or_set(cache, "categories", compute, seconds=60) == ["Books", "Tools"]
    assert calls == 1
