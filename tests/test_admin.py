"""The admin at /admin: site sign-in, the role x model x action matrix (forged requests
included), CSRF, audit rows, write-only passwords, offline assets and a large product list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from sqlalchemy import String, cast, insert, literal, select, true

from auth import ROLE_PERMISSIONS
from fastmango.accounts.account_service import AccountService
from fastmango.accounts.auth import verify_password
from fastmango.accounts.models import AccessToken, AuditAction, AuditLog, Group, User
from fastmango.admin import admin
from fastmango.orm import DecimalType, UTCDateTime, utcnow
from fastmango.web.cookies import SESSION_COOKIE
from main import create_app
from models import Product, WebinarRegistrant
from settings import Settings
from tests.utils import (
    PASSWORD,
    count_queries,
    make_product,
    make_registrant,
    make_user,
    make_webinar,
    serve,
)

pytestmark = pytest.mark.usefixtures("session")
CSRF_FIELD = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
NEW_PASSWORD = "a-brand-new-admin-passphrase"


async def page_token(client: httpx.AsyncClient, path: str) -> str:
    found = CSRF_FIELD.search((await client.get(path)).text)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, email: str) -> str:
    """Log in through the site's form as a browser does; returns the new CSRF token."""
    client.cookies.clear()  # a fresh browser: the login page sends signed-in users away
    data = {"email": email, "password": PASSWORD, "next": "/admin/"}
    data["csrf_token"] = await page_token(client, "/login")
    response = await client.post("/login", data=data)
    assert response.status_code == 303, response.text
    return await page_token(client, "/account")


class FormValues(HTMLParser):
    """What a browser would submit from a page's <form>: inputs, checked boxes, selections."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[tuple[str, str]] = []
        self._field: tuple[str, str] | None = None  # (tag, name) being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {key: value or "" for key, value in attrs}
        name = attr.get("name", "")
        kind = attr.get("type", "text")
        if tag == "input" and name and kind not in {"submit", "checkbox", "file"}:
            self.values.append((name, attr.get("value", "")))
        elif tag == "input" and kind == "checkbox" and "checked" in attr:
            self.values.append((name, attr.get("value", "y")))
        elif tag in {"select", "textarea"}:
            self._field = (tag, name)
            if tag == "textarea":
                self.values.append((name, ""))
        elif tag == "option" and self._field and "selected" in attr:
            self.values.append((self._field[1], attr.get("value", "")))

    def handle_data(self, data: str) -> None:
        if self._field and self._field[0] == "textarea":
            name, text = self.values.pop()
            self.values.append((name, text + data))

    def handle_endtag(self, tag: str) -> None:
        if tag in {"select", "textarea"}:
            self._field = None


async def form_values(client: httpx.AsyncClient, path: str) -> dict[str, str]:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    parser = FormValues()
    parser.feed(page.text)
    return dict(parser.values) | {"save": "Save"}


@dataclass
class World:
    """One row of each model, by key (rows read back later would be stale in the session)."""

    product: int
    webinar: int
    registrant: int
    user: int
    user_email: str
    group: int
    entry: int


async def make_world() -> World:
    product = await make_product(name="Desk lamp", price=Decimal("12.50"))
    webinar = await make_webinar()
    registrant = await make_registrant(webinar)
    victim = await make_user(email="victim@example.com")
    group = await Group.objects.create(name="Temporary")
    entry = await AuditLog.objects.create(
        action=AuditAction.CREATE, object_type="Product", object_id="0", changes={}
    )
    return World(
        product=product.pk,
        webinar=webinar.pk,
        registrant=registrant.pk,
        user=victim.pk,
        user_email=victim.email,
        group=group.pk,
        entry=entry.pk,
    )


@dataclass
class Spec:
    model: Any
    field: str
    pk: Callable[[World], int]
    create: Callable[[World], dict[str, str]]
    edit: Callable[[World], dict[str, str]]


def _registrant(world: World, status: str) -> dict[str, str]:
    return {"webinar": str(world.webinar), "name": "Ada", "email": f"{status}@example.com",
            "company": "Acme", "status": status, "notes": "", "photo": ""}  # fmt: skip


SPECS = {
    "product": Spec(
        Product, "name", lambda w: w.product,
        lambda w: {"name": "New chair", "price": "40.00", "category": "Furniture", "in_stock": "y"},
        lambda w: {"name": "Edited lamp", "price": "12.50", "category": "Tools", "in_stock": "y"},
    ),
    "webinar-registrant": Spec(
        WebinarRegistrant, "status", lambda w: w.registrant,
        lambda w: _registrant(w, "registered"), lambda w: _registrant(w, "confirmed"),
    ),
    "user": Spec(
        User, "full_name", lambda w: w.user,
        lambda w: {"email": "made@example.com", "password": NEW_PASSWORD, "is_active": "y"},
        lambda w: {"email": w.user_email, "full_name": "Edited Name", "is_active": "y"},
    ),
    "group": Spec(
        Group, "name", lambda w: w.group,
        lambda w: {"name": "Editors"}, lambda w: {"name": "Edited group"},
    ),
    "audit-log": Spec(
        AuditLog, "object_id", lambda w: w.entry,
        lambda w: {"object_type": "X", "object_id": "1"}, lambda w: {"object_id": "forged"},
    ),
}  # fmt: skip
ACTIONS = ("list", "create", "edit", "delete")
EVERYTHING = {(model, action) for model in SPECS for action in ACTIONS}
ROLES: dict[str, tuple[dict[str, Any], set[tuple[str, str]]]] = {
    "superuser": (
        {"is_superuser": True},
        EVERYTHING - {("audit-log", "create"), ("audit-log", "edit"), ("audit-log", "delete")},
    ),
    "marketing": (
        {"is_staff": True, "groups": ("Marketing",)},
        {("product", "list"), ("product", "create"), ("product", "edit")},
    ),
    "sales": (
        {"is_staff": True, "groups": ("Sales",)},
        {("webinar-registrant", "list"), ("webinar-registrant", "edit")},
    ),
    "support": (
        {"is_staff": True, "groups": ("Support",)},
        {("product", "list"), ("webinar-registrant", "list")},
    ),
    # Holds Marketing's codenames, but is not staff: the admin is closed to them.
    "plain user": ({"groups": ("Marketing",)}, set()),
}
ALLOWED_STATUS = {"list": 200, "create": 302, "edit": 302, "delete": 200}


async def attempt(
    client: httpx.AsyncClient, token: str, model: str, action: str, world: World
) -> httpx.Response:
    spec = SPECS[model]
    form = {"save": "Save", "csrf_token": token}
    if action == "list":
        return await client.get(f"/admin/{model}/list")
    if action == "create":
        return await client.post(f"/admin/{model}/create", data=spec.create(world) | form)
    if action == "edit":
        url = f"/admin/{model}/edit/{spec.pk(world)}"
        return await client.post(url, data=spec.edit(world) | form)
    url = f"/admin/{model}/delete?pks={spec.pk(world)}"
    return await client.delete(url, headers={"X-CSRF-Token": token})


async def state(session: Any, model: str, world: World) -> tuple[int, Any, bool]:
    """(rows, the edited field's value, the row still exists), read fresh."""
    await session.commit()  # end the test's read snapshot (SQLite keeps it otherwise)
    spec = SPECS[model]
    rows = spec.model.objects.filter(id=spec.pk(world))
    values = await rows.values_list(spec.field, flat=True)
    return await spec.model.objects.count(), values[0] if values else None, bool(values)


@pytest.mark.parametrize("role", list(ROLES))
async def test_role_matrix(client: httpx.AsyncClient, session: Any, role: str) -> None:
    flags, allowed = ROLES[role]
    await make_user(email="me@example.com", **flags)
    world = await make_world()
    token = await sign_in(client, "me@example.com")
    wrong: list[str] = []
    for model in SPECS:
        for action in ACTIONS:
            before = await state(session, model, world)
            response = await attempt(client, token, model, action, world)
            after = await state(session, model, world)
            ok = (model, action) in allowed
            expected = ALLOWED_STATUS[action] if ok else 403
            changed = {
                "list": False,
                "create": after[0] == before[0] + 1,
                "edit": after[1] != before[1],
                "delete": before[2] and not after[2],
            }[action]
            if response.status_code != expected or changed != (ok and action != "list"):
                wrong.append(f"{model} {action}: {response.status_code}, changed={changed}")
            if ok and action == "delete":
                assert "error=" not in response.text, response.text
            if ok and action == "list":  # the page offers exactly what the user may do
                shown = {
                    "create": f'href="http://testserver/admin/{model}/create"' in response.text,
                    "edit": f"/admin/{model}/edit/" in response.text,
                    "delete": 'id="action-delete"' in response.text,
                }
                offered = {name for name, present in shown.items() if present}
                expected_buttons = {name for name in shown if (model, name) in allowed}
                if offered != expected_buttons:
                    wrong.append(f"{model} buttons: {sorted(offered)}")
    assert not wrong, f"{role}: " + "; ".join(wrong)


async def test_anonymous_is_sent_to_the_site_login(client: httpx.AsyncClient, session: Any) -> None:
    world = await make_world()
    token = await page_token(client, "/login")
    for model in SPECS:
        listing = await client.get(f"/admin/{model}/list?page=2")
        assert listing.status_code == 303
        assert listing.headers["location"] == f"/login?next=%2Fadmin%2F{model}%2Flist%3Fpage%3D2"
        for action in ("create", "edit", "delete"):
            before = await state(session, model, world)
            response = await attempt(client, token, model, action, world)
            assert response.status_code == 401, (model, action)
            assert await state(session, model, world) == before
    assert (await client.get("/admin/")).headers["location"] == "/login?next=%2Fadmin%2F"
    assert (await client.get("/admin/login")).headers["location"] == "/login?next=%2Fadmin%2F"


async def test_staff_signs_in_and_out_through_the_site(client: httpx.AsyncClient) -> None:
    await make_user(email="boss@example.com", is_staff=True, groups=("Support",))
    data = {"email": "boss@example.com", "password": PASSWORD, "next": "/admin/"}
    data["csrf_token"] = await page_token(client, "/login?next=/admin/")
    assert (await client.post("/login", data=data)).headers["location"] == "/admin/"
    home = await client.get("/admin/")
    assert home.status_code == 200
    assert "Products" in home.text
    assert "Users" not in home.text  # the menu follows permissions
    # /admin/logout is a GET: it only offers the site's logout form, which revokes the token.
    offer = await client.get("/admin/logout")
    assert 'action="http://testserver/logout"' in offer.text
    assert await AccessToken.objects.count() == 1
    logout = await client.post("/logout", data={"csrf_token": CSRF_FIELD.findall(offer.text)[0]})
    assert logout.status_code == 303
    assert SESSION_COOKIE not in client.cookies
    assert (await client.get("/admin/")).status_code == 303


async def test_sessions_kept_in_redis_open_the_admin_too(
    settings: Settings, redis_url: str
) -> None:
    await make_user(email="rita@example.com", is_staff=True, groups=("Sales",))
    app = create_app(settings.model_copy(update={"redis_url": redis_url}))
    async with serve(app) as client:
        await sign_in(client, "rita@example.com")
        assert (await client.get("/admin/webinar-registrant/list")).status_code == 200
        assert (await client.get("/admin/product/list")).status_code == 403
        await app.state.redis.flushdb()  # every session revoked
        assert (await client.get("/admin/")).status_code == 303


async def test_signed_in_non_staff_get_a_clear_403(client: httpx.AsyncClient) -> None:
    await make_user(email="pat@example.com", groups=("Marketing", "Sales"))
    await sign_in(client, "pat@example.com")
    for path in ("/admin/", "/admin/product/list", "/admin/product/create"):
        response = await client.get(path)
        assert response.status_code == 403
        assert "for staff members only" in response.text


@pytest.fixture
async def marketing(client: httpx.AsyncClient) -> str:
    """A signed-in Marketing staff member; returns the CSRF token."""
    await make_user(email="mia@example.com", is_staff=True, groups=("Marketing",))
    return await sign_in(client, "mia@example.com")


async def test_csrf_token_is_required_for_every_admin_write(
    client: httpx.AsyncClient, session: Any, marketing: str
) -> None:
    world = await make_world()
    before = await state(session, "product", world)
    form = SPECS["product"].create(world) | {"save": "Save"}
    edit = SPECS["product"].edit(world) | {"save": "Save"}
    refused = [
        await client.post("/admin/product/create", data=form),
        await client.post("/admin/product/create", data=form | {"csrf_token": "0" * 64}),
        await client.post(f"/admin/product/edit/{world.product}", data=edit),
        await client.delete(f"/admin/product/delete?pks={world.product}"),
        # Actions are GET routes: the header is checked by the action itself.
        await client.get(f"/admin/product/action/mark-out-of-stock?pks={world.product}"),
    ]
    assert [response.status_code for response in refused] == [403] * 5
    assert await state(session, "product", world) == before
    assert await Product.objects.filter(in_stock=False).count() == 0
    assert await client.post("/admin/product/create", data=form | {"csrf_token": marketing})
    assert (await state(session, "product", world))[0] == before[0] + 1


async def test_actions_need_their_permission_and_are_audited(
    client: httpx.AsyncClient, session: Any, marketing: str
) -> None:
    lamp, desk = await make_product(), await make_product(in_stock=False)
    assert "50% in stock" in (await client.get("/")).text  # the stats are cached now
    url = f"/admin/product/action/mark-out-of-stock?pks={lamp.pk},{desk.pk}"
    response = await client.get(url, headers={"X-CSRF-Token": marketing})
    assert response.status_code == 200
    assert "0% in stock" in (await client.get("/")).text  # and dropped by the change
    assert response.text == "http://testserver/admin/product/list"
    await session.commit()
    assert await Product.objects.filter(in_stock=False).count() == 2
    entry = await AuditLog.objects.get(object_id=str(lamp.pk))
    assert (entry.actor_email, entry.action, entry.changes) == (
        "mia@example.com", AuditAction.UPDATE, {"in_stock": [True, False]}
    )  # fmt: skip
    assert "1 product(s) marked as out of stock." in (await client.get("/admin/")).text
    await make_user(email="sue@example.com", is_staff=True, groups=("Support",))
    token = await sign_in(client, "sue@example.com")
    listing = await client.get("/admin/product/list")
    assert "mark-in-stock" not in listing.text  # hidden, and refused when forged:
    forged = f"/admin/product/action/mark-in-stock?pks={desk.pk}"
    assert (await client.get(forged, headers={"X-CSRF-Token": token})).status_code == 403
    await session.commit()
    assert await Product.objects.filter(in_stock=True).count() == 0


async def test_admin_writes_leave_an_audit_trail(
    client: httpx.AsyncClient, session: Any, marketing: str
) -> None:
    world = await make_world()
    form = {"save": "Save", "csrf_token": marketing}
    data = SPECS["product"].create(world) | form
    assert (await client.post("/admin/product/create", data=data)).status_code == 302
    # As a browser: the form as drawn, one field changed, a read-only one forged.
    url = f"/admin/product/edit/{world.product}"
    edited = await form_values(client, url)
    assert edited["csrf_token"] == marketing
    assert "created_at" in edited
    edited |= {"name": "Edited lamp", "price": "15.00", "created_at": "2000-01-01 00:00:00"}
    assert (await client.post(url, data=edited)).status_code == 302
    await make_user(email="root@example.com", is_superuser=True)
    token = await sign_in(client, "root@example.com")
    response = await client.delete(
        f"/admin/product/delete?pks={world.product}", headers={"X-CSRF-Token": token}
    )
    assert "error" not in response.text
    await session.commit()
    rows = (
        await AuditLog.objects.filter(object_type="Product").exclude(object_id="0").order_by("id")
    )
    assert [(row.actor_email, row.action) for row in rows] == [
        ("mia@example.com", AuditAction.CREATE),
        ("mia@example.com", AuditAction.UPDATE),
        ("root@example.com", AuditAction.DELETE),
    ]
    created, changed, deleted = rows
    assert created.changes["name"] == [None, "New chair"]
    assert created.changes["price"] == [None, "40.00"]
    assert changed.object_id == deleted.object_id == str(world.product)
    assert changed.changes == {"name": ["Desk lamp", "Edited lamp"], "price": ["12.50", "15.00"]}
    assert deleted.changes["name"] == ["Edited lamp", None]
    assert deleted.actor_id is not None


async def test_passwords_are_hashed_write_only_and_never_shown(
    client: httpx.AsyncClient, session: Any
) -> None:
    await make_user(email="root@example.com", is_superuser=True)
    await AccountService().ensure_role_groups(ROLE_PERMISSIONS)
    token = await sign_in(client, "root@example.com")
    form = {"email": " New.Admin@Example.com ", "full_name": "New", "is_staff": "y",
            "save": "Save", "csrf_token": token}  # fmt: skip
    for bad, message in (({}, "Set a password"), ({"password": "123"}, "too short")):
        refused = await client.post("/admin/user/create", data=form | bad)
        assert refused.status_code == 400
        assert message in refused.text
    marketing = await Group.objects.get(name="Marketing")
    created = await client.post(
        "/admin/user/create",
        data=form | {"password": NEW_PASSWORD, "groups": str(marketing.pk)},
    )
    assert created.status_code == 302
    await session.commit()
    user = await User.objects.get(email="new.admin@example.com")
    assert user.hashed_password.startswith("$argon2")
    assert verify_password(NEW_PASSWORD, user.hashed_password)[0]
    old_hash = user.hashed_password
    url = f"/admin/user/edit/{user.pk}"
    kept = await form_values(client, url)
    assert kept["password"] == ""  # never drawn back into the form
    assert (await client.post(url, data=kept | {"full_name": "Renamed"})).status_code == 302
    changed = await form_values(client, url) | {"password": "another-long-passphrase"}
    assert (await client.post(url, data=changed)).status_code == 302
    await session.commit()
    hashes = await User.objects.filter(id=user.pk).values_list("hashed_password", flat=True)
    assert verify_password("another-long-passphrase", hashes[0])[0]
    trail = await AuditLog.objects.filter(object_type="User").order_by("id")
    assert [row.changes.get("password") for row in trail] == [
        None, None, ["(hidden)", "(changed)"]
    ]  # fmt: skip
    assert trail[0].changes["groups"] == [None, ["Marketing"]]
    pages = [
        "/admin/user/list", f"/admin/user/details/{user.pk}", url, "/admin/user/create",
        f"/admin/group/details/{marketing.pk}", f"/admin/audit-log/details/{trail[0].pk}",
        "/admin/audit-log/list", "/admin/user/export/csv", "/admin/user/export/json",
    ]  # fmt: skip
    for path in pages:
        page = await client.get(path)
        assert page.status_code == 200, path
        for secret in (old_hash, hashes[0], "$argon2", "hashed_password", NEW_PASSWORD):
            assert secret not in page.text, (path, secret)


async def test_admin_pages_load_nothing_from_other_hosts(
    client: httpx.AsyncClient, marketing: str
) -> None:
    product = await make_product()
    for path in ("/admin/", "/admin/product/list", "/admin/product/create",
                 f"/admin/product/edit/{product.pk}", "/admin/logout"):  # fmt: skip
        page = (await client.get(path)).text
        assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
        assert assets, path
        for asset in assets:
            assert asset.startswith(
                (
                    "http://testserver/admin/statics/",
                    "http://testserver/admin-static/",
                    "http://testserver/static/",
                )
            )
            assert (await client.get(asset)).status_code == 200, asset
        assert "cdn" not in page.lower()
        assert "//fonts." not in page
    css = (await client.get("/admin/statics/css/fontawesome-all.min.css")).text
    for font in set(re.findall(r"url\(\.\./webfonts/([\w-]+\.woff2)", css)) - {
        "fa-v4compatibility.woff2"  # not shipped by sqladmin; only used by v4 icon names
    }:
        assert (await client.get(f"/admin/statics/webfonts/{font}")).status_code == 200


async def insert_products(session: Any, count: int) -> None:
    """`count` products in one INSERT ... SELECT over a counting CTE (100k in well under 1 s)."""
    seq = select(literal(1).label("n")).cte("seq", recursive=True)
    seq = seq.union_all(select(seq.c.n + 1).where(seq.c.n < count))
    now = literal(utcnow(), UTCDateTime())
    rows = select(
        now, now, literal("Product ") + cast(seq.c.n, String), literal(""),
        literal(Decimal("9.99"), DecimalType()), literal("Category ") + cast(seq.c.n % 40, String),
        true(),
    )  # fmt: skip
    columns = ["created_at", "updated_at", "name", "description", "price", "category", "in_stock"]
    await session.execute(insert(Product).from_select(columns, rows))
    await session.commit()


async def test_a_large_product_list_is_one_page_query_and_one_count(
    app: Any, client: httpx.AsyncClient, session: Any, marketing: str
) -> None:
    await insert_products(session, 100_000)
    statements: dict[str, list[str]] = {}
    for query in ("?pageSize=10", "?pageSize=100&page=700", "?search=Product 9999",
                  "?category=Category 3&sortBy=price&sort=desc"):  # fmt: skip
        with count_queries(app.state.db.engine) as counter:
            response = await client.get(f"/admin/product/list{query}")
        assert response.status_code == 200
        statements[query] = counter.statements
    # The site session, the user, the permissions; one count, one page, the category filter.
    sizes = {query: len(found) for query, found in statements.items()}
    assert set(sizes.values()) == {6}, sizes
    page = [s for s in statements["?pageSize=100&page=700"] if "FROM products ORDER BY" in s]
    assert len(page) == 1
    assert "LIMIT" in page[0]
    assert "OFFSET" in page[0]
    count = [s for s in statements["?pageSize=100&page=700"] if "count(*)" in s]
    assert len(count) == 1
    assert "ORDER BY" not in count[0]  # the count skips the sort
    assert "Showing 1 to 50 of 2500 items" in response.text  # the last query: one category


async def test_options_that_name_missing_fields_fail_at_startup() -> None:
    class BrokenAdmin(admin.ModelAdmin):
        list_display = ("name", "nme")
        list_filter = ("price",)
        search_fields = ("webinar__title",)
        ordering = ("-prise",)

    class LeakyAdmin(admin.ModelAdmin):
        list_display = ("email", "hashed_password")

    with pytest.raises(admin.ImproperlyConfigured) as broken:
        admin.register(Product)(BrokenAdmin)
    assert str(broken.value).splitlines() == [
        "BrokenAdmin.list_display[1] refers to 'nme', which is not a field of Product (admin.E108)",
        "BrokenAdmin.list_filter[0] refers to 'price', which is not a boolean, enum, string "
        "or foreign key column of Product (admin.E116)",
        "BrokenAdmin.search_fields[0] refers to 'webinar__title', which is not a column or "
        "relation__column of Product (admin.E126)",
        "BrokenAdmin.ordering[0] refers to '-prise', which is not a column of Product (admin.E033)",
    ]
    with pytest.raises(admin.ImproperlyConfigured, match="'hashed_password', which is not a"):
        admin.register(User)(LeakyAdmin)
    with pytest.raises(admin.ImproperlyConfigured, match="Product is already registered"):
        admin.register(Product)(type("AgainAdmin", (admin.ModelAdmin,), {}))
    assert admin.registry["product"].__name__ == "ProductAdmin"
