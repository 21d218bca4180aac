"""HTML pages: content, filters from the query string, and clear 4xx answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.utils import count_queries, make_product, make_registrant, make_webinar

pytestmark = pytest.mark.usefixtures("session")


async def test_home_shows_stats_and_upcoming_webinars(client: httpx.AsyncClient) -> None:
    await make_product(price=Decimal("10"), in_stock=True)
    await make_product(price=Decimal("20"), in_stock=False)
    webinar = await make_webinar(title="Async SQL in practice")
    await make_registrant(webinar)
    await make_webinar(title="Already over", starts_at=datetime.now(UTC) - timedelta(days=1))
    response = await client.get("/")
    assert response.status_code == 200
    assert "2 products, average price 15.00, 50% in stock" in response.text
    assert "Async SQL in practice" in response.text
    assert "(1 registered)" in response.text
    assert "Already over" not in response.text


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
    # The pager keeps the filters.
    assert "?category=Widgets&amp;ordering=-price&amp;page=2" in body
    second = await client.get("/products?category=Widgets&ordering=-price&page=2")
    assert "Widget 00" in second.text
    found = await client.get("/products", params={"q": "gadg"})
    assert "Gadget</a>" in found.text
    assert "Widget" not in found.text.split("<tbody>")[1]


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


async def test_missing_things_get_404_pages(client: httpx.AsyncClient) -> None:
    for path in ("/products/424242", "/webinars/424242", "/no/such/page"):
        response = await client.get(path)
        assert response.status_code == 404
        assert "<h1>404</h1>" in response.text
    for bad_id in ("abc", "0", "-1", "99999999999", "9" * 40):
        response = await client.get(f"/products/{bad_id}")
        assert response.status_code == 400, bad_id
        assert "product_id" in response.text


async def test_product_and_webinar_details(client: httpx.AsyncClient) -> None:
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
    assert "1 products, average price 10.00" in (await client.get("/")).text
    with count_queries(app.state.db.engine) as cached:
        await client.get("/")
    service = ProductService(app.state.cache)
    await service.update(product.id or 0, ProductUpdate(price=Decimal("30")))
    with count_queries(app.state.db.engine) as fresh:
        page = await client.get("/")
    assert "1 products, average price 30.00" in page.text
    assert fresh.count > cached.count
