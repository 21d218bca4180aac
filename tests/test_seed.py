"""`manage.py seed`: realistic demo data, created once, whatever the number of runs."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from rich.console import Console
from sqlalchemy import func, select

from fastmango.accounts.account_service import all_codenames
from fastmango.accounts.auth import verify_password
from fastmango.accounts.models import Group, Permission, User, UserGroupLink
from fastmango.db import Database
from fastmango.orm import current_session, utcnow
from management import demo_data
from management.commands.seed import SeedOptions, SeedReport, seed
from models import Product, Webinar, WebinarRegistrant
from settings import Settings
from tests.conftest import make_settings
from tests.test_manage import manage_py, sqlite_only

QUIET = Console(file=io.StringIO())


async def row_counts(database: Database) -> dict[str, int]:
    # A fresh scope each time: on SQLite an open read transaction would not see new rows.
    async with database.session():
        counts = {
            model.__name__: await model.objects.count()
            for model in (Product, Webinar, WebinarRegistrant, Permission, Group, User)
        }
        links = await current_session().scalar(select(func.count()).select_from(UserGroupLink))
        return counts | {"UserGroupLink": links or 0}


async def test_seed_twice_creates_nothing_the_second_time(
    settings: Settings, database: Database
) -> None:
    args = ("seed", "--products", "50", "--registrants", "5")
    first = await manage_py(*args, settings=settings)
    assert first.returncode == 0, first.stderr
    counts = await row_counts(database)
    assert counts == {
        "Product": 50,
        "Webinar": 3,
        "WebinarRegistrant": 15,
        "Permission": len(all_codenames()),  # four per model
        "Group": 3,
        "User": 5,
        "UserGroupLink": 3,
    }
    assert demo_data.DEMO_PASSWORD not in first.stdout + first.stderr
    assert "$argon2" not in first.stdout + first.stderr

    second = await manage_py(*args, settings=settings)
    assert second.returncode == 0, second.stderr
    assert await row_counts(database) == counts
    assert "Nothing to do" in second.stdout


@sqlite_only  # one full-size run is enough; the CLI test covers PostgreSQL
async def test_default_seed_makes_a_realistic_catalogue(
    settings: Settings, database: Database
) -> None:
    report = await seed(database, settings, SeedOptions(), QUIET)
    assert report.created["Products"] == 1000
    assert report.created["Registrants"] == 630
    async with database.session():
        products: list[Product] = await Product.objects.all()
        assert len({p.name for p in products}) == 1000
        assert len({p.category for p in products}) == 8
        assert len({p.price for p in products}) > 300
        assert len({p.description for p in products}) > 300
        assert 0 < sum(not p.in_stock for p in products) < 300

        webinars: list[Webinar] = await Webinar.objects.order_by("starts_at")
        assert len(webinars) == 3
        assert all(w.starts_at > utcnow() + timedelta(days=1) for w in webinars)
        for webinar in webinars:
            registrants: list[WebinarRegistrant] = await WebinarRegistrant.objects.filter(
                webinar_id=webinar.id
            )
            assert len({r.email for r in registrants}) == 210
            assert len({r.status for r in registrants}) >= 3
            assert len({r.company for r in registrants}) >= 8

        admin: User = await User.objects.prefetch_related("groups").get(email="admin@example.com")
        assert (admin.is_superuser, admin.is_staff, admin.is_verified) == (True, True, True)
        assert verify_password(demo_data.DEMO_PASSWORD, admin.hashed_password)[0]
        sales: User = await User.objects.prefetch_related("groups").get(email="sales@example.com")
        assert (sales.is_staff, sales.is_superuser) == (True, False)
        assert [group.name for group in sales.groups] == ["Sales"]
        plain: User = await User.objects.prefetch_related("groups").get(email="user@example.com")
        assert (plain.is_staff, plain.groups) == (False, [])


async def test_seed_adds_only_what_is_missing(settings: Settings, database: Database) -> None:
    options = SeedOptions(products=20, registrants=4, users=False)
    await seed(database, settings, options, QUIET)
    async with database.session():
        await Product.objects.filter(name=demo_data.product_name(7)).delete()
    report: SeedReport = await seed(
        database, settings, SeedOptions(products=30, registrants=6, users=False), QUIET
    )
    assert (report.created["Products"], report.present["Products"]) == (11, 19)
    assert (report.created["Registrants"], report.present["Registrants"]) == (6, 12)
    assert (report.created["Webinars"], report.present["Webinars"]) == (0, 3)
    assert "Users" not in report.created
    counts = await row_counts(database)
    assert (counts["Product"], counts["WebinarRegistrant"], counts["User"]) == (30, 18, 0)


@sqlite_only  # the refusal does not depend on the database
async def test_seed_refuses_demo_users_in_production(settings: Settings) -> None:
    production = make_settings(settings.database_url, environment="production")
    database = Database(production)
    try:
        report = await seed(database, production, SeedOptions(products=5, registrants=2), QUIET)
        counts: dict[str, Any] = await row_counts(database)
    finally:
        await database.dispose()
    assert any("Refusing to create demo users in production" in note for note in report.notes)
    assert counts["User"] == 0
    assert (counts["Product"], counts["Permission"], counts["Group"]) == (
        5,
        len(all_codenames()),
        3,
    )
