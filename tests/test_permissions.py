"""Groups and permissions: has_perm, the role groups, and the route dependencies."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI

from fastmango.accounts.auth import StaffUser, SuperUser, load_permissions, require_perm
from fastmango.accounts.models import User
from tests.utils import bearer, make_user

pytestmark = pytest.mark.usefixtures("session")


async def test_has_perm_through_groups_direct_grants_and_superuser() -> None:
    marketing = await make_user(groups=("Marketing",))
    support = await make_user(groups=("Support", "Sales"))
    boss = await make_user(is_superuser=True)
    nobody = await make_user()
    for user in (marketing, support, boss, nobody):
        await load_permissions(user)
    assert marketing.has_perm("product.change")
    assert not marketing.has_perm("product.delete")
    assert not marketing.has_perm("webinarregistrant.change")
    assert support.has_perm("webinarregistrant.change")  # from Sales
    assert support.has_perm("product.view")  # from Support
    assert not support.has_perm("product.change")
    assert boss.has_perm("anything.at_all")
    assert not nobody.has_perm("product.view")
    boss.is_active = False
    assert not boss.has_perm("product.view")


async def test_has_perm_refuses_to_guess() -> None:
    user = await make_user()
    fresh = await User.objects.get(id=user.id)
    with pytest.raises(RuntimeError, match="load_permissions"):
        fresh.has_perm("product.view")


@pytest.fixture
async def guarded(app: FastAPI) -> FastAPI:
    # Routes as a feature module would declare them.
    @app.get("/_test/change-products")
    async def change_products(
        user: Annotated[User, Depends(require_perm("product.change"))],
    ) -> dict[str, str]:
        return {"email": user.email}

    @app.get("/_test/staff")
    async def staff_only(user: StaffUser) -> dict[str, str]:
        return {"email": user.email}

    @app.get("/_test/super")
    async def super_only(user: SuperUser) -> dict[str, str]:
        return {"email": user.email}

    return app


@pytest.mark.usefixtures("guarded")
async def test_dependencies_401_403_and_allow(client: httpx.AsyncClient) -> None:
    await make_user(email="m@example.com", is_staff=True, groups=("Marketing",))
    await make_user(email="s@example.com", is_staff=True, groups=("Support",))
    await make_user(email="root@example.com", is_superuser=True)
    await make_user(email="plain@example.com")
    expected = {
        "/_test/change-products": {"m": 200, "s": 403, "root": 200, "plain": 403},
        "/_test/staff": {"m": 200, "s": 200, "root": 200, "plain": 403},
        "/_test/super": {"m": 403, "s": 403, "root": 200, "plain": 403},
    }
    headers = {
        name: await bearer(client, f"{name}@example.com") for name in ("m", "s", "root", "plain")
    }
    for path, by_user in expected.items():
        assert (await client.get(path, headers={"accept": "application/json"})).status_code == 401
        for name, status in by_user.items():
            response = await client.get(
                path, headers=headers[name] | {"accept": "application/json"}
            )
            assert response.status_code == status, (path, name)
            if status == 403:
                assert response.json()["code"] == "permission_denied"
