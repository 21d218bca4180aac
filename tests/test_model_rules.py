"""Rules every row keeps on every write path and backend: no NUL in text, no secret in a repr."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from rich.pretty import pretty_repr
from sqlalchemy import String
from sqlalchemy import inspect as sa_inspect

from fastmango.accounts.models import AccessToken, User
from fastmango.orm import FieldError, Model, is_secret_field
from models import Product
from tests.utils import PASSWORD, csrf_token, login, make_product, make_user

SECRET = "argon2-SECRET-VALUE-never-shown"


def _text_columns(model: type[Any]) -> list[str]:
    mapper = sa_inspect(model)
    return [
        attr.key
        for attr in mapper.column_attrs
        if isinstance(attr.columns[0].type, String) and not attr.columns[0].primary_key
    ]


def _tables() -> list[type[Any]]:
    return sorted(
        (m.class_ for m in Model._sa_registry.mappers if issubclass(m.class_, Model)),
        key=lambda cls: cls.__name__,
    )


# -- secrets stay out of repr/str ------------------------------------------------------------


def test_a_user_repr_shows_no_password_hash() -> None:
    user = User(id=1, email="ann@example.com", hashed_password=SECRET, full_name="Ann")
    for shown in (repr(user), str(user), f"{user!r}", pretty_repr(user)):
        assert SECRET not in shown
        assert "hashed_password" not in shown
        assert "ann@example.com" in shown  # the rest of the repr is still useful
    token = AccessToken(token=SECRET, user_id=1)
    assert SECRET not in repr(token)
    assert SECRET not in str(token)


@pytest.mark.parametrize("model", _tables(), ids=lambda m: m.__name__)
def test_no_model_shows_a_secret_field(model: type[Any]) -> None:
    columns = [attr.key for attr in sa_inspect(model).column_attrs]
    secrets = [name for name in columns if is_secret_field(name)]
    instance = model.model_construct(**dict.fromkeys(secrets, SECRET))
    assert SECRET not in repr(instance)
    assert SECRET not in str(instance)


def test_secret_field_names() -> None:
    for name in ("hashed_password", "password", "token", "api_key", "client_secret"):
        assert is_secret_field(name)
    for name in ("email", "full_name", "content_hash", "name", "description"):
        assert not is_secret_field(name)


# -- one rule for NUL in text, on both databases ------------------------------------------------


@pytest.mark.usefixtures("session")
async def test_nul_is_refused_in_every_text_column_by_create(backend: str) -> None:
    """Every String column of every table, through `objects.create` (a flush)."""
    user = await make_user()
    base: dict[type[Any], dict[str, Any]] = {
        Product: {"name": "Lamp", "price": 1, "category": "Tools"},
        User: {"email": "nul@example.com", "hashed_password": "x"},
    }
    for model, values in base.items():
        for column in _text_columns(model):
            bad = values | {column: "a\x00b"}
            with pytest.raises(FieldError) as refused:
                await model.objects.create(**bad)
            expected = [{"field": column, "msg": "NUL characters are not allowed."}]
            assert refused.value.errors == expected
    assert await User.objects.count() == 1
    assert await Product.objects.count() == 0
    user = await User.objects.get(id=user.id)  # the rollbacks above expired the old copy
    user.full_name = "Ann\x00"
    with pytest.raises(FieldError):
        await user.save()  # an update flush, same rule
    await user.refresh()  # drops the refused value, which is still on the object (as in Django)
    assert user.full_name == ""


@pytest.mark.usefixtures("session")
async def test_nul_is_refused_by_bulk_create_and_update(backend: str) -> None:
    product = await make_product(name="Lamp")
    with pytest.raises(FieldError):
        await Product.objects.bulk_create(
            [Product(name="A\x00", price=Decimal(1), category="Tools")]
        )
    with pytest.raises(FieldError):
        await Product.objects.filter(id=product.id).update(description="x\x00y")
    assert await Product.objects.count() == 1
    assert (await Product.objects.get(id=product.id)).description.startswith("Description")


@pytest.mark.usefixtures("session")
async def test_nul_in_full_name_is_a_400_and_stores_nothing(
    backend: str, client: httpx.AsyncClient
) -> None:
    """The hole: SQLite stored a NUL in full_name while PostgreSQL refused it."""
    token = await csrf_token(client, "/register")
    form = {
        "email": "nul@example.com",
        "full_name": "Ann\x00Smith",
        "password": "a-long-enough-passphrase-9",
        "password2": "a-long-enough-passphrase-9",
        "csrf_token": token,
    }
    response = await client.post("/register", data=form)
    assert response.status_code == 400, response.text
    assert "NUL characters are not allowed" in response.text
    assert not await User.objects.filter(email="nul@example.com").exists()

    user = await make_user(email="ann@example.com", full_name="Ann")
    assert (await login(client, user.email, PASSWORD)).status_code == 303
    token = await csrf_token(client, "/account")
    response = await client.post("/account", data={"full_name": "A\x00", "csrf_token": token})
    assert response.status_code == 400
    await user.refresh()
    assert user.full_name == "Ann"
