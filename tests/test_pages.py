"""HTML pages: content, HTMX fragments vs whole pages, forms with inline errors, clear 4xx."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from models import Product, WebinarRegistrant
from tests.utils import (
    count_queries,
    csrf_token,
    login,
    make_product,
    make_registrant,
    make_user,
    make_webinar,
)

pytestmark = pytest.mark.usefixtures("session")
HTMX = {"HX-Request": "true"}


def text_of(html: str) -> str:
    """The visible text, tags dropped and spaces squeezed: for asserting on what people read."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_home_has_cards_for_each_area_and_upcoming_webinars(
    client: httpx.AsyncClient,
) -> None:
    await make_product(price=Decimal("10"), in_stock=True)
    await make_product(price=Decimal("20"), in_stock=False)
    webinar = await make_webinar(title="Async SQL in practice")
    await make_registrant(webinar)
    await make_webinar(title="Already over", starts_at=datetime.now(UTC) - timedelta(days=1))
    response = await client.get("/")
    assert response.status_code == 200
    text = text_of(response.text)
    assert "2 products · 50% in stock · average 15.00" in text
    assert "Async SQL in practice" in text
    assert "1 registered" in text
    assert "Already over" not in text
    cards = response.text.split('data-testid="home-cards"')[1]
    for path in ("/products", "/webinars", "/design", "/docs", "/admin/", "/login"):
        assert re.search(rf'href="(http://testserver)?{path}"', cards), path


async def test_base_page_loads_only_our_own_hashed_assets(client: httpx.AsyncClient) -> None:
    page = (await client.get("/design")).text
    sources = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
    assert sources, "no scripts or styles"
    assert all(re.fullmatch(r"/static/dist/[\w-]+\.[0-9a-f]{12}\.(js|css)", s) for s in sources)
    assert "http" not in " ".join(sources)  # no CDN
    assert "<script>" not in page
    assert " style=" not in page
    asset = await client.get(sources[0])
    assert asset.status_code == 200
    assert "immutable" in asset.headers["cache-control"]
    assert "max-age=0" in (await client.get("/static/favicon.svg")).headers["cache-control"]


async def test_design_page_has_the_showcase(client: httpx.AsyncClient) -> None:
    page = await client.get("/design")
    assert page.status_code == 200
    assert 'x-data="imageSwitcher"' in page.text
    assert page.text.count('data-testid="switcher-image-') == 3
    assert "badge-primary" in page.text


async def test_product_list_filters_sorts_and_pages(client: httpx.AsyncClient) -> None:
    for i in range(25):
        await make_product(name=f"Widget {i:02d}", category="Widgets", price=Decimal(i + 1))
    await make_product(name="Gadget", category="Gadgets", price=Decimal("99"))
    response = await client.get("/products", params={"category": "Widgets", "ordering": "-price"})
    assert response.status_code == 200
    body = response.text
    assert body.index("Widget 24") < body.index("Widget 23")
    assert "Gadget</a>" not in body
    assert "Page 1 of 2 · 25 in all" in body
    # The pager and the column headers keep the filters.
    assert 'href="?category=Widgets&amp;ordering=-price&amp;page=2"' in body
    assert 'href="?category=Widgets&amp;ordering=price"' in body  # flips the current order
    assert 'aria-sort="descending"' in body
    second = await client.get("/products?category=Widgets&ordering=-price&page=2")
    assert "Widget 00" in second.text
    found = await client.get("/products", params={"q": "gadg"})
    assert "Gadget</a>" in found.text
    assert "Widget" not in found.text.split("<tbody>")[1].split("</tbody>")[0]
    out = await client.get("/products", params={"in_stock": "false"})
    assert "No products match." in out.text


async def test_product_stats_follow_the_filters_and_the_chart_counts_categories(
    client: httpx.AsyncClient,
) -> None:
    await make_product(category="Books", price=Decimal("10"), in_stock=True)
    await make_product(category="Books", price=Decimal("30"), in_stock=False)
    await make_product(category="Tools", price=Decimal("50"), in_stock=True)
    page = text_of((await client.get("/products")).text)
    assert "Products 3 in the catalogue" in page
    assert "Average price 30.00" in page
    assert "In stock 67%" in page
    assert "Books: 2 products, average price 20.00" in page
    assert "Tools: 1 products, average price 50.00" in page
    books = text_of((await client.get("/products?category=Books")).text)
    assert "Products 2 matching the filters" in books
    assert "Average price 20.00" in books
    assert "In stock 50%" in books


async def test_htmx_gets_the_results_fragment_and_the_same_url_the_whole_page(
    client: httpx.AsyncClient,
) -> None:
    await make_product(name="Lamp", category="Home")
    url = "/products?q=lamp&ordering=-price"
    full = await client.get(url)
    fragment = await client.get(url, headers=HTMX)
    assert "HX-Request" in full.headers["vary"]
    assert "HX-Request" in fragment.headers["vary"]
    assert full.text.startswith("<!doctype html>")
    assert "<html" not in fragment.text
    assert "<nav" in fragment.text
    assert fragment.text.lstrip().startswith('<div id="product-results"')
    assert "Lamp</a>" in fragment.text
    # The sort box is refreshed out of band with the new order selected.
    assert 'hx-swap-oob="true"' in fragment.text
    assert '<option value="-price" selected>' in fragment.text
    # htmx restoring history after a cache miss needs the whole page.
    restore = await client.get(url, headers=HTMX | {"HX-History-Restore-Request": "true"})
    assert restore.text.startswith("<!doctype html>")


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("ordering=colour", "colour"),
        ("ordering=-price,nope", "nope"),
        ("page=abc", "page"),
        ("page=0", "page"),
        ("per_page=1000", "per_page"),
        ("price_min=cheap", "price_min"),
        ("in_stock=maybe", "in_stock"),
        ("q=a%00b", "NUL"),
        ("category=%00", "NUL"),
    ],
)
async def test_bad_query_strings_get_400_naming_the_field(
    client: httpx.AsyncClient, query: str, named: str
) -> None:
    page = await client.get(f"/products?{query}")
    assert page.status_code == 400
    assert "text/html" in page.headers["content-type"]
    assert named in page.text
    api_style = await client.get(f"/products?{query}", headers={"accept": "application/json"})
    assert api_style.status_code in {400, 422}
    body: dict[str, Any] = api_style.json()
    assert body["code"] in {"invalid", "invalid_field"}
    assert named in str(body)


async def test_error_pages_have_the_site_look(client: httpx.AsyncClient) -> None:
    for path in ("/products/424242", "/webinars/424242", "/no/such/page"):
        response = await client.get(path)
        assert response.status_code == 404
        assert 'data-testid="error-page"' in response.text
        assert "Page not found" in response.text
        assert 'class="navbar' in response.text  # inside base.html
    for bad_id in ("abc", "0", "-1", "99999999999", "9" * 40):
        response = await client.get(f"/products/{bad_id}")
        assert response.status_code == 400, bad_id
        assert "product_id" in response.text
    user = await make_user()
    await login(client, user.email)
    forbidden = await client.get("/products/new")
    assert forbidden.status_code == 403
    assert "Not allowed" in forbidden.text
    assert 'data-testid="error-page"' in forbidden.text


async def test_product_and_webinar_details_escape_text(client: httpx.AsyncClient) -> None:
    product = await make_product(name="Tea <b>pot</b>", description="<script>alert(1)</script>")
    page = await client.get(f"/products/{product.id}")
    assert page.status_code == 200
    assert "Tea &lt;b&gt;pot&lt;/b&gt;" in page.text
    assert "<script>alert(1)</script>" not in page.text
    webinar = await make_webinar(title="Deep dive")
    for _ in range(3):
        await make_registrant(webinar)
    detail = await client.get(f"/webinars/{webinar.id}")
    assert "Deep dive" in detail.text
    assert "3 people registered." in detail.text
    listing = await client.get("/webinars")
    assert "3 registered" in listing.text


async def test_list_pages_do_not_grow_queries_with_page_size(
    client: httpx.AsyncClient, app: Any
) -> None:
    for i in range(30):
        await make_product(category=f"C{i % 3}")
    engine = app.state.db.engine
    await client.get("/products")  # fills the categories cache
    with count_queries(engine) as few:
        assert (await client.get("/products?per_page=5")).status_code == 200
    with count_queries(engine) as many:
        assert (await client.get("/products?per_page=30")).status_code == 200
    assert few.count == many.count


async def test_stats_are_cached_and_dropped_when_a_product_changes(
    client: httpx.AsyncClient, app: Any
) -> None:
    from schemas import ProductUpdate
    from services import ProductService

    product = await make_product(price=Decimal("10"))
    assert "1 products · 100% in stock · average 10.00" in text_of((await client.get("/")).text)
    with count_queries(app.state.db.engine) as cached:
        await client.get("/")
    service = ProductService(app.state.cache)
    await service.update(product.id or 0, ProductUpdate(price=Decimal("30")))
    with count_queries(app.state.db.engine) as fresh:
        page = await client.get("/")
    assert "average 30.00" in text_of(page.text)
    assert fresh.count > cached.count


class TestProductForms:
    async def test_anonymous_go_to_login_and_users_without_permission_get_403(
        self, client: httpx.AsyncClient
    ) -> None:
        product = await make_product()
        for path in ("/products/new", f"/products/{product.id}/edit"):
            response = await client.get(path)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=")
        token = await csrf_token(client)
        posted = await client.post("/products/new", data={"csrf_token": token, "name": "x"})
        assert posted.status_code == 401
        await login(client, (await make_user(groups=("Support",))).email)  # may only view
        assert (await client.get("/products/new")).status_code == 403
        assert (await client.get(f"/products/{product.id}/edit")).status_code == 403
        assert "product-add" not in (await client.get("/products")).text

    async def test_staff_add_a_product_with_inline_errors_first(
        self, client: httpx.AsyncClient, session: Any
    ) -> None:
        await login(client, (await make_user(groups=("Marketing",))).email)
        assert 'data-testid="product-add"' in (await client.get("/products")).text
        token = await csrf_token(client, "/products/new")
        bad = {"csrf_token": token, "name": "  ", "price": "12.345", "category": ""}
        response = await client.post("/products/new", data=bad)
        assert response.status_code == 422
        errors = dict(re.findall(r'data-error-for="(\w+)">([^<]+)<', response.text))
        assert errors == {
            "name": "Enter a value with visible characters.",
            "price": "Use at most 2 decimal places.",
            "category": "This field is required.",
        }
        assert 'value="12.345"' in response.text  # what was typed is kept
        good = bad | {"name": "Desk <lamp>", "price": "12.50", "category": "Home", "in_stock": "on"}
        created = await client.post("/products/new", data=good)
        assert created.status_code == 303
        detail = await client.get(created.headers["location"])
        assert "Product “Desk &lt;lamp&gt;” was added." in detail.text
        assert "Desk &lt;lamp&gt;" in detail.text
        assert "12.50" in detail.text
        await session.commit()
        product = await Product.objects.get(name="Desk <lamp>")
        assert product.in_stock is True
        assert product.price == Decimal("12.50")

    async def test_staff_edit_a_product(self, client: httpx.AsyncClient, session: Any) -> None:
        product = await make_product(name="Old name", price=Decimal("5"), in_stock=True)
        await login(client, (await make_user(groups=("Marketing",))).email)
        form = await client.get(f"/products/{product.id}/edit")
        assert 'value="Old name"' in form.text
        token = await csrf_token(client, f"/products/{product.id}/edit")
        data = {"csrf_token": token, "name": "New name", "price": "abc", "category": "Home"}
        refused = await client.post(f"/products/{product.id}/edit", data=data)
        assert refused.status_code == 422
        assert "Enter a number, like 12.50." in refused.text
        saved = await client.post(f"/products/{product.id}/edit", data=data | {"price": "7"})
        assert saved.status_code == 303
        await product.refresh()
        changed = product
        assert (changed.name, changed.price, changed.in_stock) == ("New name", Decimal("7"), False)


class TestWebinarRegistration:
    async def test_inline_errors_then_success_shown_once(
        self, client: httpx.AsyncClient, session: Any
    ) -> None:
        webinar = await make_webinar(title="Forms that behave")
        url = f"/webinars/{webinar.id}/register"
        token = await csrf_token(client, f"/webinars/{webinar.id}")
        bad = {"csrf_token": token, "name": "", "email": "not-an-email", "company": "ACME"}
        refused = await client.post(url, data=bad)
        assert refused.status_code == 422
        assert "This field is required." in refused.text
        assert "Enter a valid email address." in refused.text
        assert 'value="ACME"' in refused.text
        good = bad | {"name": "Ada", "email": "Ada@Example.com"}
        done = await client.post(url, data=good)
        assert done.status_code == 303
        page = await client.get(done.headers["location"])
        assert "You are registered for “Forms that behave”" in page.text
        assert "1 people registered." in page.text
        again = await client.get(done.headers["location"])
        assert "You are registered" not in again.text  # a message is shown once
        await session.commit()
        registrant = await WebinarRegistrant.objects.get(webinar_id=webinar.id)
        assert registrant.email == "ada@example.com"

    async def test_duplicate_is_a_clear_message_next_to_the_email(
        self, client: httpx.AsyncClient
    ) -> None:
        webinar = await make_webinar()
        await make_registrant(webinar, email="ada@example.com")
        token = await csrf_token(client, f"/webinars/{webinar.id}")
        data = {"csrf_token": token, "name": "Ada", "email": "ADA@example.com"}
        response = await client.post(f"/webinars/{webinar.id}/register", data=data, headers=HTMX)
        assert response.status_code == 409
        assert response.text.lstrip().startswith('<section id="register-card"')
        assert 'data-error-for="email">ada@example.com is already registered' in response.text

    async def test_htmx_success_swaps_the_card_and_closed_webinars_refuse(
        self, client: httpx.AsyncClient
    ) -> None:
        webinar = await make_webinar()
        token = await csrf_token(client, f"/webinars/{webinar.id}")
        data = {"csrf_token": token, "name": "<img src=x onerror=alert(1)>", "email": "a@b.co"}
        ok = await client.post(f"/webinars/{webinar.id}/register", data=data, headers=HTMX)
        assert ok.status_code == 200
        assert 'data-testid="registered"' in ok.text
        assert "<img src=x" not in ok.text
        assert "&lt;img src=x" in ok.text
        past = await make_webinar(starts_at=datetime.now(UTC) - timedelta(hours=1))
        closed = await client.post(f"/webinars/{past.id}/register", data=data)
        assert closed.status_code == 409
        assert "registration is closed" in closed.text

    async def test_registration_needs_the_csrf_token(self, client: httpx.AsyncClient) -> None:
        webinar = await make_webinar()
        data = {"name": "Ada", "email": "a@b.co"}
        assert (await client.post(f"/webinars/{webinar.id}/register", data=data)).status_code == 403
