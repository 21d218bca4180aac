"""Issue 11: sessions die with a password change, a reset, a deactivation or a demotion;
concurrent guesses cannot pass the login throttle; forgot-password answers alike for
every address; simultaneous sign-ups with one email give one account and 409s.

Where sessions live matters, so the session tests run with tokens in the database
and in Redis (on SQLite and PostgreSQL each).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import event
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastmango.accounts import auth
from fastmango.accounts.auth import TOKEN_KEY_PREFIX
from fastmango.accounts.models import AccessToken, User
from fastmango.accounts.throttle import LoginThrottle, MemoryStore, RedisStore, Throttled
from fastmango.mail import EmailMessage, MemoryMailer
from main import create_app
from settings import Settings
from tests.utils import PASSWORD, bearer, csrf_token, login, make_user, serve

NEW_PASSWORD = "a-fresh-long-passphrase-7"


def asgi_client(app: ASGIApp) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@dataclass
class Site:
    """One app, tokens in `store` ("database" or "redis"); `browser()` opens another browser."""

    app: Any
    store: str
    client: httpx.AsyncClient
    browser: Callable[[], httpx.AsyncClient]

    async def live_tokens(self, user_id: int) -> int:
        if self.store == "database":
            async with self.app.state.db.session():  # a fresh snapshot, not the test's
                return await AccessToken.objects.filter(user_id=user_id).count()
        redis: Redis = self.app.state.redis
        keys = [key async for key in redis.scan_iter(match=f"{TOKEN_KEY_PREFIX}*")]
        owners = await redis.mget(keys) if keys else []
        return sum(owner == str(user_id).encode() for owner in owners)


@pytest.fixture(params=["database", "redis"])
async def site(
    request: pytest.FixtureRequest, settings: Settings, session: Any
) -> AsyncIterator[Site]:
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        redis = Redis.from_url(url)
        await redis.flushdb()  # throttle counts and tokens of earlier tests
        await redis.aclose()
        settings = settings.model_copy(update={"redis_url": url})
    app = create_app(settings)
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(serve(app))

        def browser() -> httpx.AsyncClient:
            other = asgi_client(app)
            stack.push_async_callback(other.aclose)
            return other

        yield Site(app, request.param, client, browser)


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password check the app makes (the real argon2 ones, counted on the way)."""
    calls: list[str] = []
    hasher = auth.password_hash
    verify_and_update, verify = hasher.verify_and_update, hasher.verify

    def counted_verify_and_update(password: str, hashed: str) -> tuple[bool, str | None]:
        calls.append("verify")
        return verify_and_update(password, hashed)

    def counted_verify(password: str, hashed: str) -> bool:
        calls.append("verify")
        return verify(password, hashed)

    monkeypatch.setattr(hasher, "verify_and_update", counted_verify_and_update)
    monkeypatch.setattr(hasher, "verify", counted_verify)
    return calls


def new_password_form(token: str, current: str = PASSWORD) -> dict[str, str]:
    return {
        "current_password": current,
        "password": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "csrf_token": token,
    }


async def signed_in(client: httpx.AsyncClient) -> bool:
    return (await client.get("/account")).status_code == 200


async def api_works(client: httpx.AsyncClient, headers: dict[str, str]) -> bool:
    return (await client.get("/api/v1/users/me", headers=headers)).status_code == 200


# -- 2. a password change, a reset, a deactivation or a demotion ends other sessions ----------


async def test_password_change_signs_out_every_other_session_and_token(site: Site) -> None:
    user = await make_user(email="pat@example.com")
    assert user.id is not None
    me, laptop = site.browser(), site.browser()
    for browser in (me, laptop):
        assert (await login(browser, user.email)).status_code == 303
    api = await bearer(site.client, user.email)
    assert await site.live_tokens(user.id) == 3

    token = await csrf_token(me, "/account")
    changed = await me.post("/account/password", data=new_password_form(token))
    assert changed.status_code == 303
    assert await signed_in(me)  # the session that changed it goes on
    assert not await signed_in(laptop)
    assert not await api_works(site.client, api)
    assert await site.live_tokens(user.id) == 1
    assert (await login(laptop, user.email, NEW_PASSWORD)).status_code == 303


async def test_a_wrong_current_password_changes_and_revokes_nothing(site: Site) -> None:
    user = await make_user(email="quin@example.com")
    me, laptop = site.browser(), site.browser()
    for browser in (me, laptop):
        await login(browser, user.email)
    token = await csrf_token(me, "/account")
    wrong = await me.post("/account/password", data=new_password_form(token, "not-it"))
    assert wrong.status_code == 400
    assert await signed_in(me)
    assert await signed_in(laptop)


async def test_password_reset_signs_out_everywhere(site: Site) -> None:
    user = await make_user(email="rae@example.com")
    laptop = site.browser()
    await login(laptop, user.email)
    api = await bearer(site.client, user.email)
    token = await csrf_token(site.client, "/password/forgot")
    await site.client.post("/password/forgot", data={"email": user.email, "csrf_token": token})
    [mail] = site.app.state.mailer.outbox
    link = re.search(r"token=(\S+)", mail.body)
    assert link
    form = {"token": link.group(1), "password": NEW_PASSWORD, "password2": NEW_PASSWORD}
    done = await site.client.post("/password/reset", data=form | {"csrf_token": token})
    assert done.status_code == 303
    assert not await signed_in(laptop)
    assert not await api_works(site.client, api)


@pytest.mark.parametrize("flag", ["is_staff", "is_active"])
async def test_losing_access_in_the_admin_revokes_the_sessions(site: Site, flag: str) -> None:
    from tests.test_admin import form_values

    root = await make_user(email="root@example.com", is_superuser=True, is_staff=True)
    sam = await make_user(email="sam@example.com", is_staff=True, groups=("Sales",))
    assert sam.id is not None
    admin, sams_browser = site.browser(), site.browser()
    await login(admin, root.email)
    await login(sams_browser, sam.email)
    api = await bearer(site.client, sam.email)
    assert (await sams_browser.get("/admin/")).status_code == 200

    url = f"/admin/user/edit/{sam.id}"
    renamed = await form_values(admin, url) | {"full_name": "Sam Sales"}
    assert (await admin.post(url, data=renamed)).status_code == 302
    assert await site.live_tokens(sam.id) == 2  # an edit that takes nothing away keeps them

    form = await form_values(admin, url)
    form.pop(flag)  # the box unticked
    assert (await admin.post(url, data=form)).status_code == 302
    assert await site.live_tokens(sam.id) == 0
    if flag == "is_active":  # switched back on: the old sessions stay dead
        assert (await admin.post(url, data=form | {flag: "y"})).status_code == 302
    assert (await sams_browser.get("/admin/")).status_code == 303  # to the login page
    assert not await api_works(site.client, api)
    assert await signed_in(admin)


# -- 3. the login throttle holds against concurrent guesses ----------------------------------


async def test_thirty_concurrent_api_guesses_check_at_most_five_passwords(
    site: Site, verifications: list[str]
) -> None:
    await make_user(email="target@example.com")
    wrong = {"username": "target@example.com", "password": "a-wrong-guess"}
    responses = await asyncio.gather(
        *(site.client.post("/api/v1/auth/token", data=wrong) for _ in range(30))
    )
    statuses = [response.status_code for response in responses]
    assert statuses.count(401) <= 5
    assert statuses.count(429) >= 25
    assert statuses.count(401) + statuses.count(429) == 30
    assert len(verifications) <= 5
    right = {"username": "target@example.com", "password": PASSWORD}
    assert (await site.client.post("/api/v1/auth/token", data=right)).status_code == 429


async def test_thirty_concurrent_form_guesses_check_at_most_five_passwords(
    site: Site, verifications: list[str]
) -> None:
    """The site's /login form, which is the admin's sign-in too."""
    await make_user(email="target@example.com")
    token = await csrf_token(site.client)
    wrong = {"email": "target@example.com", "password": "a-wrong-guess", "csrf_token": token}
    responses = await asyncio.gather(*(site.client.post("/login", data=wrong) for _ in range(30)))
    statuses = [response.status_code for response in responses]
    assert statuses.count(400) <= 5
    assert statuses.count(429) >= 25
    assert len(verifications) <= 5


async def test_a_success_frees_its_slot(site: Site) -> None:
    """Right passwords never count: one IP with many users signing in is not refused."""
    users = [await make_user() for _ in range(8)]
    wrong = {"username": users[0].email, "password": "a-wrong-guess"}
    for _ in range(4):
        assert (await site.client.post("/api/v1/auth/token", data=wrong)).status_code == 401
    for user in users:
        right = {"username": user.email, "password": PASSWORD}
        assert (await site.client.post("/api/v1/auth/token", data=right)).status_code == 200
    # users[0]'s failures were cleared by its success; the IP still has its four.
    assert (await site.client.post("/api/v1/auth/token", data=wrong)).status_code == 401
    assert (await site.client.post("/api/v1/auth/token", data=wrong)).status_code == 429


@pytest.fixture(params=["memory", "redis"])
async def throttle(request: pytest.FixtureRequest) -> AsyncIterator[LoginThrottle]:
    if request.param == "memory":
        yield LoginThrottle(MemoryStore(60), max_failures=5, window=60)
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"))
    await redis.flushdb()
    yield LoginThrottle(RedisStore(redis, 60), max_failures=5, window=60)
    await redis.aclose()


async def test_reservations_are_atomic(throttle: LoginThrottle) -> None:
    async def one() -> bool:
        try:
            await throttle.reserve("x@example.com", "10.1.1.1")
        except Throttled:
            return False
        return True

    results = await asyncio.gather(*(one() for _ in range(30)))
    assert results.count(True) == 5
    with pytest.raises(Throttled) as refused:  # another IP: the account is at its limit
        await throttle.reserve("x@example.com", "10.9.9.9")
    assert 1 <= refused.value.retry_after <= 60


# -- 5. forgot-password: the same answer, the same work, the mail after the response ---------


class RecordingMailer(MemoryMailer):
    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    async def send(self, message: EmailMessage) -> None:
        self.events.append("mail sent")
        await super().send(message)


def recording(app: ASGIApp, events: list[str]) -> ASGIApp:
    """`app`, noting in `events` when the last byte of the response has been sent."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def watched(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                events.append("response sent")

        await app(scope, receive, watched)

    return wrapped


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Hashing noted as it happens (the real argon2, only observed)."""
    events: list[str] = []
    hasher = auth.password_hash
    hash_, verify = hasher.hash, hasher.verify

    def noted_hash(password: str | bytes, **kwargs: Any) -> str:
        events.append("hash")
        return hash_(password, **kwargs)

    def noted_verify(password: str | bytes, hashed: str | bytes) -> bool:
        events.append("verify")
        return verify(password, hashed)

    monkeypatch.setattr(hasher, "hash", noted_hash)
    monkeypatch.setattr(hasher, "verify", noted_verify)
    return events


async def test_forgot_password_does_the_same_work_and_mails_after_the_response(
    settings: Settings, session: Any, work: list[str]
) -> None:
    await make_user(email="known@example.com")
    app = create_app(settings)
    app.state.mailer = RecordingMailer(work)
    engine = app.state.db.engine

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            work.append(f"sql {sql}")

    traces: dict[str, tuple[list[str], list[str]]] = {}
    async with app.router.lifespan_context(app), asgi_client(recording(app, work)) as client:
        token = await csrf_token(client, "/password/forgot")
        event.listen(engine.sync_engine, "before_cursor_execute", statement)
        try:
            for email in ("known@example.com", "unknown@example.com"):
                work.clear()
                data = {"email": email, "csrf_token": token}
                answer = await client.post("/password/forgot", data=data)
                assert answer.status_code == 303
                cut = work.index("response sent")
                traces[email] = (work[:cut], work[cut + 1 :])
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", statement)
    known_request, known_after = traces["known@example.com"]
    unknown_request, unknown_after = traces["unknown@example.com"]
    assert known_request == unknown_request  # the response waits on nothing account-related
    assert not [step for step in known_request if step == "hash" or step == "mail sent"]
    # After the response: the same lookup and one hash for both, a mail for one.
    assert known_after == [*unknown_after, "mail sent"]
    assert known_after.count("hash") == 1
    assert any(step.startswith("sql SELECT") and "users" in step for step in known_after)
    assert [m.to for m in app.state.mailer.outbox] == ["known@example.com"]


# -- 7. simultaneous sign-ups with one email ------------------------------------------------


async def test_twenty_simultaneous_signups_make_one_account_and_409s(
    client: httpx.AsyncClient, session: Any
) -> None:
    token = await csrf_token(client, "/register")
    form = {
        "email": "twin@example.com",
        "full_name": "Twin",
        "password": "a-long-enough-passphrase",
        "password2": "a-long-enough-passphrase",
        "csrf_token": token,
    }
    responses = await asyncio.gather(*(client.post("/register", data=form) for _ in range(20)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [303] + [409] * 19
    for response in responses:
        if response.status_code == 409:
            assert "already exists" in response.text
    await session.commit()  # a fresh snapshot: the test's own may predate the sign-ups
    assert await User.objects.filter(email="twin@example.com").count() == 1
