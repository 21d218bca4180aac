"""Bearer tokens for API clients: issue, use, revoke; throttling answers in JSON."""

from __future__ import annotations

import httpx
import pytest

from tests.utils import PASSWORD, make_user

pytestmark = pytest.mark.usefixtures("session")


async def test_token_from_form_or_json_then_me_then_revoke(client: httpx.AsyncClient) -> None:
    await make_user(email="api@example.com", full_name="Api User", groups=("Marketing",))
    form = await client.post(
        "/api/v1/auth/token", data={"username": "api@example.com", "password": PASSWORD}
    )
    assert form.status_code == 200
    token = form.json()["access_token"]
    assert form.json()["token_type"] == "bearer"
    as_json = await client.post(
        "/api/v1/auth/token", json={"email": "api@example.com", "password": PASSWORD}
    )
    assert as_json.status_code == 200
    assert as_json.json()["access_token"] != token
    headers = {"Authorization": f"Bearer {token}"}
    me = await client.get("/api/v1/users/me", headers=headers)
    assert me.status_code == 200
    body = me.json()
    assert body["email"] == "api@example.com"
    assert body["permissions"] == ["product.add", "product.change", "product.view"]
    assert "hashed_password" not in body
    revoked = await client.post("/api/v1/auth/logout", headers=headers)
    assert revoked.status_code == 204
    after = await client.get("/api/v1/users/me", headers=headers)
    assert after.status_code == 401
    assert after.headers["www-authenticate"] == "Bearer"
    assert after.json()["code"] == "not_authenticated"
    other = {"Authorization": f"Bearer {as_json.json()['access_token']}"}
    assert (await client.get("/api/v1/users/me", headers=other)).status_code == 200


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": {"username": "api@example.com", "password": "wrong"}},
        {"json": {"email": "nobody@example.com", "password": PASSWORD}},
    ],
)
async def test_wrong_credentials_are_401(
    client: httpx.AsyncClient, kwargs: dict[str, object]
) -> None:
    await make_user(email="api@example.com")
    response = await client.post("/api/v1/auth/token", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 401
    assert response.json() == {"detail": "Email or password is wrong.", "code": "not_authenticated"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"email": "x@example.com"}},
        {"json": {"email": "x@example.com", "password": "p", "extra": 1}},
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"data": {"username": "x@example.com"}},
        {"json": {"email": "x" * 400, "password": "p"}},
    ],
)
async def test_malformed_credentials_are_400(
    client: httpx.AsyncClient, kwargs: dict[str, object]
) -> None:
    response = await client.post("/api/v1/auth/token", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


async def test_bad_and_missing_tokens(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/users/me")).status_code == 401
    for header in ("Bearer nonsense", "Bearer ", "Basic abc", "Bearer " + "x" * 5000):
        response = await client.get("/api/v1/users/me", headers={"Authorization": header})
        assert response.status_code == 401, header


async def test_api_throttling_is_json_429(client: httpx.AsyncClient) -> None:
    await make_user(email="t@example.com")
    for _ in range(5):
        wrong = {"username": "t@example.com", "password": "wrong"}
        assert (await client.post("/api/v1/auth/token", data=wrong)).status_code == 401
    blocked = await client.post(
        "/api/v1/auth/token", data={"username": "t@example.com", "password": PASSWORD}
    )
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "throttled"
    assert int(blocked.headers["Retry-After"]) > 0


async def test_inactive_users_tokens_stop_working(client: httpx.AsyncClient) -> None:
    user = await make_user(email="quit@example.com")
    token = (
        await client.post("/api/v1/auth/token", data={"username": user.email, "password": PASSWORD})
    ).json()["access_token"]
    user.is_active = False
    await user.save()
    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
