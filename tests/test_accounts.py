"""Account pages: login, logout revocation, safe redirects, throttling, register, reset, CSRF."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from fastmango.accounts.auth import hash_password, verify_password
from fastmango.accounts.models import AccessToken, User
from fastmango.web.cookies import SESSION_COOKIE
from tests.utils import CSRF, PASSWORD, csrf_token, login, make_user

pytestmark = pytest.mark.usefixtures("session")


async def test_login_sets_a_safe_cookie_and_shows_the_user(client: httpx.AsyncClient) -> None:
    await make_user(email="ann@example.com", full_name="Ann Smith")
    response = await login(client, "ANN@example.com", next="/account")
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie.replace("samesite", "SameSite")
    assert "Secure" not in cookie  # plain http in tests; production sets Secure
    account = await client.get("/account")
    assert account.status_code == 200
    assert "ann@example.com" in account.text
    assert "Welcome back, Ann Smith." in account.text  # the flash message, once
    again = await client.get("/account")
    assert "Welcome back" not in again.text
    user = await User.objects.get(email="ann@example.com")
    assert user.last_login is not None


async def test_wrong_credentials_are_one_message(client: httpx.AsyncClient) -> None:
    await make_user(email="bob@example.com")
    wrong_password = await login(client, "bob@example.com", "not-the-password")
    unknown = await login(client, "nobody@example.com")
    inactive_user = await make_user(email="gone@example.com", is_active=False)
    inactive = await login(client, inactive_user.email)
    for response in (wrong_password, unknown, inactive):
        assert response.status_code == 400
        assert "Email or password is wrong." in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


async def test_logout_revokes_the_session(client: httpx.AsyncClient, session: Any) -> None:
    await make_user(email="cy@example.com")
    await login(client, "cy@example.com")
    stolen = client.cookies.get(SESSION_COOKIE)
    assert stolen
    assert await AccessToken.objects.count() == 1
    assert stolen not in set(await AccessToken.objects.values_list("token", flat=True))
    token = await csrf_token(client, "/account")
    response = await client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    await session.commit()  # end the test's read snapshot (SQLite keeps it otherwise)
    assert await AccessToken.objects.count() == 0
    client.cookies.set(SESSION_COOKIE, stolen)  # replaying the old cookie
    replay = await client.get("/account")
    assert replay.status_code == 303
    assert replay.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "/%0d%0aSet-Cookie:x",
        "/\t/evil.example",
    ],
)
async def test_open_redirects_are_not_followed(client: httpx.AsyncClient, target: str) -> None:
    await make_user(email="dee@example.com")
    response = await login(client, "dee@example.com", next=target)
    assert response.status_code == 303
    location = response.headers["location"]
    # Only an encoded same-site path survives, as the path it is; the rest fall back to "/".
    assert location == (target if target.startswith("/%") else "/")


async def test_anonymous_pages_redirect_to_login_and_back(client: httpx.AsyncClient) -> None:
    response = await client.get("/account?tab=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Faccount%3Ftab%3D1"
    await make_user(email="eve@example.com")
    back = await login(client, "eve@example.com", next="/account?tab=1")
    assert back.headers["location"] == "/account?tab=1"


async def test_throttling_after_five_failures(client: httpx.AsyncClient) -> None:
    await make_user(email="fay@example.com")
    for _ in range(5):
        assert (await login(client, "fay@example.com", "wrong-password")).status_code == 400
    blocked = await login(client, "fay@example.com")  # even the right password
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    # The IP is over the limit too: another account from it is refused.
    await make_user(email="gus@example.com")
    assert (await login(client, "gus@example.com")).status_code == 429


async def test_register_then_duplicate_and_weak_password(client: httpx.AsyncClient) -> None:
    token = await csrf_token(client, "/register")
    form = {
        "email": "New.User@Example.com",
        "full_name": "New User",
        "password": "a-long-enough-passphrase",
        "password2": "a-long-enough-passphrase",
        "csrf_token": token,
    }
    created = await client.post("/register", data=form)
    assert created.status_code == 303
    assert (await client.get("/account")).status_code == 200
    user = await User.objects.get(email="new.user@example.com")
    assert user.hashed_password.startswith("$argon2")
    assert not user.is_staff
    client.cookies.clear()
    token = await csrf_token(client, "/register")
    duplicate = await client.post("/register", data=form | {"csrf_token": token})
    assert duplicate.status_code == 409
    weak = await client.post(
        "/register",
        data=form
        | {
            "email": "w@example.com",
            "password": "password123",
            "password2": "password123",
            "csrf_token": token,
        },
    )
    assert weak.status_code == 400
    assert "too common" in weak.text
    assert not await User.objects.filter(email="w@example.com").exists()


async def test_registration_can_be_closed(
    settings: Any, client: httpx.AsyncClient, app: Any
) -> None:
    app.state.settings = settings.model_copy(update={"registration_enabled": False})
    assert (await client.get("/register")).status_code == 404


async def test_password_reset_flow(client: httpx.AsyncClient, app: Any) -> None:
    await make_user(email="hal@example.com")
    outbox = app.state.mailer.outbox
    token = await csrf_token(client, "/password/forgot")
    for email in ("hal@example.com", "nobody@example.com"):
        response = await client.post("/password/forgot", data={"email": email, "csrf_token": token})
        assert response.status_code == 303  # the same answer either way
    assert [m.to for m in outbox] == ["hal@example.com"]
    link = re.search(r"http://testserver(/password/reset\?token=\S+)", outbox[0].body)
    assert link
    form_page = await client.get(link.group(1))
    assert form_page.status_code == 200
    reset_token = link.group(1).split("token=")[1]
    token = CSRF.search(form_page.text).group(1)  # type: ignore[union-attr]
    done = await client.post(
        "/password/reset",
        data={
            "token": reset_token,
            "password": "brand-new-secret-42",
            "password2": "brand-new-secret-42",
            "csrf_token": token,
        },
    )
    assert done.status_code == 303
    assert (await login(client, "hal@example.com")).status_code == 400  # old password
    assert (await login(client, "hal@example.com", "brand-new-secret-42")).status_code == 303
    reused = await client.get(link.group(1))
    assert reused.status_code == 400  # the link died with the old password
    assert (await client.get("/password/reset?token=garbage")).status_code == 400


async def test_change_password_needs_the_current_one(client: httpx.AsyncClient) -> None:
    await make_user(email="ivy@example.com")
    await login(client, "ivy@example.com")
    token = await csrf_token(client, "/account")
    wrong = await client.post(
        "/account/password",
        data={
            "current_password": "nope",
            "password": "another-good-one-9",
            "password2": "another-good-one-9",
            "csrf_token": token,
        },
    )
    assert wrong.status_code == 400
    assert "current password is wrong" in wrong.text
    ok = await client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": "another-good-one-9",
            "password2": "another-good-one-9",
            "csrf_token": token,
        },
    )
    assert ok.status_code == 303
    user = await User.objects.get(email="ivy@example.com")
    assert verify_password("another-good-one-9", user.hashed_password)[0]


async def test_bcrypt_hashes_are_upgraded_on_login(client: httpx.AsyncClient) -> None:
    import bcrypt

    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    await User.objects.create(email="old@example.com", hashed_password=legacy)
    assert (await login(client, "old@example.com")).status_code == 303
    user = await User.objects.get(email="old@example.com")
    await user.refresh()
    assert user.hashed_password.startswith("$argon2")


class TestCSRF:
    async def test_form_posts_without_or_with_a_wrong_token_are_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        await make_user(email="jo@example.com")
        await client.get("/login")
        missing = await client.post(
            "/login", data={"email": "jo@example.com", "password": PASSWORD}
        )
        wrong = await client.post(
            "/login", data={"email": "jo@example.com", "password": PASSWORD, "csrf_token": "0" * 64}
        )
        for response in (missing, wrong):
            assert response.status_code == 403
            assert "CSRF" in response.text
            assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
        assert await AccessToken.objects.count() == 0

    async def test_header_token_works_and_cookie_authenticated_api_calls_need_it(
        self, client: httpx.AsyncClient
    ) -> None:
        await make_user(email="kim@example.com")
        await login(client, "kim@example.com")
        token = await csrf_token(client, "/account")
        refused = await client.post("/account", data={"full_name": "Forged"})
        assert refused.status_code == 403
        accepted = await client.post(
            "/account", data={"full_name": "Kim"}, headers={"X-CSRF-Token": token}
        )
        assert accepted.status_code == 303
        api = await client.post("/api/v1/auth/logout")  # cookie, no token
        assert api.status_code == 403
        assert api.json()["code"] == "csrf_failed"
        assert (await User.objects.get(email="kim@example.com")).full_name == "Kim"

    async def test_multipart_forms_carry_the_token_too(self, client: httpx.AsyncClient) -> None:
        await make_user(email="lee@example.com")
        token = await csrf_token(client)
        response = await client.post(
            "/login",
            data={"email": "lee@example.com", "password": PASSWORD, "csrf_token": token},
            files={"unused": ("a.txt", b"x", "text/plain")},
        )
        assert response.status_code == 303

    async def test_rotated_on_login(self, client: httpx.AsyncClient) -> None:
        await make_user(email="max@example.com")
        before = await csrf_token(client)
        await login(client, "max@example.com")
        after = await csrf_token(client, "/account")
        assert before != after
        stale = await client.post("/account", data={"full_name": "x", "csrf_token": before})
        assert stale.status_code == 403


def test_hash_password_is_argon2() -> None:
    assert hash_password("x" * 12).startswith("$argon2id$")


async def test_production_cookies_are_secure(settings: Any) -> None:
    from main import create_app

    production = settings.model_copy(
        update={
            "environment": "production",
            "secret_key": settings.secret_key,
            "allowed_hosts": ["testserver"],
        }
    )
    app = create_app(production)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://testserver") as client,
    ):
        await make_user(email="prod@example.com")
        response = await login(client, "prod@example.com")
        cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
        session_cookie = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
        assert "Secure" in session_cookie
        assert "HttpOnly" in session_cookie
        assert all("secure" in c.lower() for c in cookies)
        unknown_host = await client.get("/", headers={"host": "evil.example"})
        assert unknown_host.status_code == 400


async def test_csrf_is_not_skipped_for_basic_auth_and_odd_tokens_are_403(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/login")
    form = {"email": "x@example.com", "password": "whatever-1234"}
    basic = await client.post("/login", data=form, headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 403
    odd = await client.post(
        "/login", data=form, headers={b"X-CSRF-Token": "tökén".encode("latin-1")}
    )
    assert odd.status_code == 403
