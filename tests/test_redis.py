"""Shared state on a real Redis: login throttling and revocable sessions across app instances."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from fastmango.accounts.auth import TOKEN_KEY_PREFIX
from fastmango.accounts.throttle import LoginThrottle, RedisStore, Throttled
from main import create_app
from settings import Settings
from tests.utils import PASSWORD, make_user, serve

pytestmark = pytest.mark.usefixtures("session")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def two_instances(
    settings: Settings, redis_url: str, redis: Redis
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two app instances sharing one database and one Redis, as behind a load balancer."""
    shared = settings.model_copy(update={"redis_url": redis_url})
    async with AsyncExitStack() as stack:
        clients = []
        for app in (create_app(shared), create_app(shared)):
            clients.append(await stack.enter_async_context(serve(app)))
        yield clients


async def test_redis_throttle_counts_and_expires(redis: Redis) -> None:
    throttle = LoginThrottle(RedisStore(redis, window=2), max_failures=3, window=2)
    for _ in range(3):
        await throttle.reserve("a@example.com", "10.0.0.1")  # never succeeded: failures
    with pytest.raises(Throttled) as refused:
        await throttle.reserve("a@example.com", "10.0.0.9")
    assert 1 <= refused.value.retry_after <= 2
    assert 0 < await redis.ttl("fastmango:throttle:account:a@example.com") <= 2
    with pytest.raises(Throttled):  # the IP is over the limit too
        await throttle.reserve("b@example.com", "10.0.0.1")
    ok = await throttle.reserve("c@example.com", "10.0.0.2")
    await throttle.succeeded(ok)
    assert not await redis.exists("fastmango:throttle:account:c@example.com")
    assert await redis.zcard("fastmango:throttle:ip:10.0.0.2") == 0  # its slot given back


async def test_tokens_live_in_redis_and_work_on_every_instance(
    two_instances: list[httpx.AsyncClient], redis: Redis
) -> None:
    first, second = two_instances
    await make_user(email="shared@example.com")
    login = await first.post(
        "/api/v1/auth/token", data={"username": "shared@example.com", "password": PASSWORD}
    )
    token = login.json()["access_token"]
    assert await redis.exists(f"{TOKEN_KEY_PREFIX}{token}")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await second.get("/api/v1/users/me", headers=headers)).status_code == 200
    assert (await second.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await first.get("/api/v1/users/me", headers=headers)).status_code == 401


async def test_throttling_counts_across_instances(two_instances: list[httpx.AsyncClient]) -> None:
    await make_user(email="target@example.com")
    wrong: dict[str, Any] = {"username": "target@example.com", "password": "nope"}
    for attempt in range(5):
        client = two_instances[attempt % 2]
        assert (await client.post("/api/v1/auth/token", data=wrong)).status_code == 401
    right = {"username": "target@example.com", "password": PASSWORD}
    for client in two_instances:
        assert (await client.post("/api/v1/auth/token", data=right)).status_code == 429
