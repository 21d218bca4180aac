"""AccountService: users, passwords, permissions and role groups, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlmodel import col

from auth import ROLE_PERMISSIONS
from fastmango.accounts.account_service import all_codenames, permission_models
from fastmango.accounts.auth import verify_password
from fastmango.accounts.models import Group, GroupPermissionLink, Permission, User, UserGroupLink
from fastmango.errors import Conflict, NotFound, ValidationError
from fastmango.orm import current_session
from services import AccountService

GOOD_PASSWORD = "correct-horse-battery-42"


@pytest.fixture
def accounts() -> AccountService:
    return AccountService(password_min_length=10)


async def _group_codenames(name: str) -> set[str]:
    group: Group = await Group.objects.prefetch_related("permissions").get(name=name)
    return {permission.codename for permission in group.permissions}


async def test_create_user_normalises_email_and_hashes_with_argon2(
    session: Any, accounts: AccountService
) -> None:
    user = await accounts.create_user(
        "  Ada.Lovelace@Example.COM ", GOOD_PASSWORD, full_name=" Ada Lovelace ", is_staff=True
    )
    stored: User = await User.objects.get(id=user.id)
    assert stored.email == "ada.lovelace@example.com"
    assert stored.full_name == "Ada Lovelace"
    assert (stored.is_staff, stored.is_superuser, stored.is_active, stored.is_verified) == (
        True,
        False,
        True,
        False,
    )
    assert stored.hashed_password.startswith("$argon2")
    assert GOOD_PASSWORD not in stored.hashed_password
    assert verify_password(GOOD_PASSWORD, stored.hashed_password)[0]


async def test_create_user_refuses_duplicate_email_in_any_case(
    session: Any, accounts: AccountService
) -> None:
    await accounts.create_user("grace@example.com", GOOD_PASSWORD)
    with pytest.raises(Conflict, match="already exists"):
        await accounts.create_user("GRACE@example.com", GOOD_PASSWORD)
    assert await User.objects.count() == 1


async def test_create_user_validates_password_and_email(
    session: Any, accounts: AccountService
) -> None:
    with pytest.raises(ValidationError, match="too short") as short:
        await accounts.create_user("a@example.com", "short")
    assert short.value.errors[0]["field"] == "password"
    with pytest.raises(ValidationError, match="too similar"):
        await accounts.create_user("margaret@example.com", "margaret-2024!")
    with pytest.raises(ValidationError, match="valid email"):
        await accounts.create_user("not-an-email", GOOD_PASSWORD)
    # validate=False skips the password rules (seed data, imports), never the email check.
    await accounts.create_user("b@example.com", "short", validate=False)
    assert await User.objects.count() == 1


async def test_set_password(session: Any, accounts: AccountService) -> None:
    await accounts.create_user("hedy@example.com", GOOD_PASSWORD)
    await accounts.set_password("Hedy@Example.com", "a-brand-new-passphrase")
    user: User = await User.objects.get(email="hedy@example.com")
    assert verify_password("a-brand-new-passphrase", user.hashed_password)[0]
    assert not verify_password(GOOD_PASSWORD, user.hashed_password)[0]
    with pytest.raises(ValidationError):
        await accounts.set_password("hedy@example.com", "1234567890123")
    with pytest.raises(NotFound):
        await accounts.set_password("nobody@example.com", GOOD_PASSWORD)


async def test_ensure_permissions_is_idempotent(session: Any, accounts: AccountService) -> None:
    # Four for every table, as Django makes them (a new model gets its own).
    assert await accounts.ensure_permissions() == 4 * len(permission_models()) > 0
    assert await accounts.ensure_permissions() == 0
    codenames = set(await Permission.objects.values_list("codename", flat=True))
    assert codenames == set(all_codenames())
    assert {"auditlog.view", "webinarregistrant.change", "permission.delete"} <= codenames
    view: Permission = await Permission.objects.get(codename="webinarregistrant.view")
    assert view.name == "Can view webinar registrant"


async def test_ensure_role_groups_grants_roles_and_repairs_groups(
    session: Any, accounts: AccountService
) -> None:
    assert await accounts.ensure_role_groups(ROLE_PERMISSIONS) == 3
    for name, codenames in ROLE_PERMISSIONS.items():
        assert await _group_codenames(name) == set(codenames)
    assert await _group_codenames("Sales") == {
        "webinar.view",
        "webinar.change",
        "webinarregistrant.view",
        "webinarregistrant.change",
    }

    # A group that lost a permission gets it back; one an admin added is kept.
    db = current_session()
    marketing: Group = await Group.objects.get(name="Marketing")
    add_product: Permission = await Permission.objects.get(codename="product.add")
    delete_product: Permission = await Permission.objects.get(codename="product.delete")
    await db.execute(
        delete(GroupPermissionLink).where(
            col(GroupPermissionLink.group_id) == marketing.id,
            col(GroupPermissionLink.permission_id) == add_product.id,
        )
    )
    assert marketing.id is not None
    assert delete_product.id is not None
    db.add(GroupPermissionLink(group_id=marketing.id, permission_id=delete_product.id))
    await db.commit()
    links_before = await db.scalar(select(func.count()).select_from(GroupPermissionLink))

    assert await accounts.ensure_role_groups(ROLE_PERMISSIONS) == 0
    assert await _group_codenames("Marketing") == {*ROLE_PERMISSIONS["Marketing"], "product.delete"}
    assert await Group.objects.count() == 3
    links_after = await db.scalar(select(func.count()).select_from(GroupPermissionLink))
    assert links_after == (links_before or 0) + 1


async def test_add_to_group(session: Any, accounts: AccountService) -> None:
    await accounts.ensure_role_groups(ROLE_PERMISSIONS)
    user = await accounts.create_user("sam@example.com", GOOD_PASSWORD, is_staff=True)
    assert await accounts.add_to_group("sam@example.com", "Support") is True
    assert await accounts.add_to_group("sam@example.com", "Support") is False
    stored: User = await User.objects.prefetch_related("groups").get(id=user.id)
    assert [group.name for group in stored.groups] == ["Support"]
    db = current_session()
    assert await db.scalar(select(func.count()).select_from(UserGroupLink)) == 1
    with pytest.raises(NotFound):
        await accounts.add_to_group("sam@example.com", "Astronauts")
