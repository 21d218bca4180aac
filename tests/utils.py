"""Helpers for tests: statement counting and test data builders."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import httpx
import typer
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from auth import ROLE_PERMISSIONS
from fastmango import conf
from fastmango.accounts.auth import hash_password
from fastmango.accounts.models import User
from fastmango.management import build_cli
from fastmango.orm import utcnow
from models import Product, Webinar, WebinarRegistrant
from settings import get_settings


@asynccontextmanager
async def serve(app: Any, base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    """Run `app`'s lifespan and give a client on it (app errors answer 500, as in production)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=base_url) as client,
    ):
        yield client


@dataclass
class QueryCounter:
    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)


_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def count_queries(engine: AsyncEngine) -> Iterator[QueryCounter]:
    """Count the SQL statements `engine` runs inside the block (SAVEPOINT/BEGIN excluded)."""
    counter = QueryCounter()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(_TRANSACTION_CONTROL):
            counter.statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


_sequence = count(1)
PASSWORD = "correct-horse-battery-staple"


async def make_user(
    email: str | None = None, password: str = PASSWORD, groups: tuple[str, ...] = (), **flags: Any
) -> User:
    """A user with a real argon2 hash, optionally in groups (created with their permissions)."""
    from fastmango.accounts.account_service import AccountService

    n = next(_sequence)
    user = await User.objects.create(
        email=email or f"user{n}@example.com", hashed_password=hash_password(password), **flags
    )
    if groups:
        accounts = AccountService()
        await accounts.ensure_role_groups(ROLE_PERMISSIONS)
        for group in groups:
            await accounts.add_to_group(user.email, group)
    return user


async def make_product(**values: Any) -> Product:
    n = next(_sequence)
    data: dict[str, Any] = {
        "name": f"Product {n:05d}",
        "description": f"Description of product {n}",
        "price": Decimal("10.00") + n,
        "category": "Tools",
        "in_stock": True,
    } | values
    return await Product.objects.create(**data)


CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


async def csrf_token(client: httpx.AsyncClient, path: str = "/login") -> str:
    """The CSRF token of the session `client` holds, read from a page's form."""
    page = await client.get(path)
    found = CSRF.search(page.text)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


async def login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, next: str = "/"
) -> httpx.Response:
    token = await csrf_token(client)
    data = {"email": email, "password": password, "next": next, "csrf_token": token}
    return await client.post("/login", data=data)


async def bearer(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Authorization headers for a user, from the token endpoint."""
    data = {"username": email, "password": password}
    response = await client.post("/api/v1/auth/token", data=data)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def make_webinar(**values: Any) -> Webinar:
    n = next(_sequence)
    data: dict[str, Any] = {
        "title": f"Webinar {n}",
        "description": "All about it",
        "starts_at": utcnow() + timedelta(days=n),
        "duration_minutes": 45,
        "host": "Ada Lovelace",
    } | values
    return await Webinar.objects.create(**data)


async def make_registrant(webinar: Webinar, **values: Any) -> WebinarRegistrant:
    n = next(_sequence)
    data: dict[str, Any] = {
        "webinar_id": webinar.id,
        "name": f"Person {n}",
        "email": f"person{n}@example.com",
        "company": "Acme",
    } | values
    return await WebinarRegistrant.objects.create(**data)


def cli() -> typer.Typer:
    """manage.py's command line, for CliRunner: the project's settings, every command."""
    conf.configure(get_settings)
    return build_cli()
