"""`@cached(timeout=...)`: the same results from memory and from a Redis several
instances share, through the method's return type."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel
from redis.asyncio import Redis

from fastmango.cache import Cache, RedisCache, cached
from tests.clock import fake_clock, outlive


class Summary(BaseModel):
    name: str
    price: Decimal
    seen: datetime


class Catalogue:
    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.calls = 0

    @cached(timeout=60, key="summary:{product_id}")
    async def summary(self, product_id: int) -> Summary:
        self.calls += 1
        return Summary(
            name=f"Lamp {product_id}", price=Decimal("19.90"), seen=datetime(2026, 1, 2, tzinfo=UTC)
        )

    @cached(timeout=60)
    async def names(self, category: str, limit: int = 3) -> list[str]:
        self.calls += 1
        return [f"{category} {n}" for n in range(limit)]

    @cached(timeout=0.3, key="headline")
    async def headline(self) -> str:
        self.calls += 1
        return f"Headline {self.calls}"

    @cached(timeout=60)
    async def maybe(self, found: bool) -> str | None:
        self.calls += 1
        return "here" if found else None


async def test_results_come_back_as_their_type(cache: Cache) -> None:
    catalogue = Catalogue(cache)
    first = await catalogue.summary(7)
    again = await catalogue.summary(product_id=7)
    assert again == first
    assert isinstance(again.price, Decimal)
    assert again.seen.tzinfo is not None
    assert catalogue.calls == 1
    assert await cache.get("summary:7") == {
        "name": "Lamp 7",
        "price": "19.90",
        "seen": "2026-01-02T00:00:00Z",
    }
    await cache.delete("summary:7")  # the key is known: invalidation is one call
    await catalogue.summary(7)
    assert catalogue.calls == 2


async def test_arguments_make_the_key(cache: Cache) -> None:
    catalogue = Catalogue(cache)
    assert await catalogue.names("Books") == ["Books 0", "Books 1", "Books 2"]
    assert await catalogue.names("Books", limit=3) == ["Books 0", "Books 1", "Books 2"]
    assert catalogue.calls == 1  # a default spelled out is the same call
    assert await catalogue.names("Books", 2) == ["Books 0", "Books 1"]
    assert await catalogue.names("Tools") == ["Tools 0", "Tools 1", "Tools 2"]
    assert catalogue.calls == 3


async def test_entries_expire_after_the_timeout(cache: Cache) -> None:
    clock = fake_clock(cache)
    catalogue = Catalogue(cache)
    assert await catalogue.headline() == "Headline 1"

    async def expired() -> bool:
        return await cache.get("headline") is None

    await outlive(clock, 0.3, expired)
    assert await catalogue.headline() == "Headline 2"  # computed again
    assert catalogue.calls == 2


async def test_none_is_not_cached(cache: Cache) -> None:
    catalogue = Catalogue(cache)
    assert await catalogue.maybe(False) is None
    assert await catalogue.maybe(False) is None
    assert await catalogue.maybe(True) == "here"
    assert await catalogue.maybe(True) == "here"
    assert catalogue.calls == 3


async def test_instances_sharing_redis_share_entries(redis_url: str) -> None:
    clients = [Redis.from_url(redis_url), Redis.from_url(redis_url)]
    await clients[0].flushdb()
    try:
        one, two = (Catalogue(RedisCache(client)) for client in clients)
        assert await one.summary(3) == await two.summary(3)
        assert (one.calls, two.calls) == (1, 0)
    finally:
        for client in clients:
            await client.aclose()
