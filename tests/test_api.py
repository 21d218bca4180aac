"""The JSON API: filters, pages, ETags, permissions, the error shape, docs that work offline."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from fastmango.accounts.models import AuditLog
from fastmango.orm import utcnow
from models import Product, WebinarRegistrant
from tests.utils import (
    PASSWORD,
    bearer,
    count_queries,
    make_product,
    make_registrant,
    make_user,
    make_webinar,
)

pytestmark = pytest.mark.usefixtures("session")
JSON = {"accept": "application/json"}


@pytest.fixture
async def staff(client: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    """Bearer headers per role."""
    await make_user(email="root@example.com", is_superuser=True, is_staff=True)
    await make_user(email="marketing@example.com", is_staff=True, groups=("Marketing",))
    await make_user(email="sales@example.com", is_staff=True, groups=("Sales",))
    await make_user(email="support@example.com", is_staff=True, groups=("Support",))
    await make_user(email="plain@example.com")
    names = ("root", "marketing", "sales", "support", "plain")
    return {name: await bearer(client, f"{name}@example.com") for name in names}


class TestProducts:
    async def test_list_filters_orders_and_pages(self, client: httpx.AsyncClient) -> None:
        for i in range(30):
            await make_product(
                name=f"Lamp {i:02d}", category="Lights", price=Decimal(10 + i), in_stock=i % 2 == 0
            )
        await make_product(name="Chair", category="Furniture", price=Decimal("50"))
        response = await client.get(
            "/api/v1/products",
            params={
                "category": "Lights",
                "in_stock": "true",
                "price_min": "20",
                "ordering": "-price,name",
                "page": 2,
                "per_page": 5,
            },
        )
        assert response.status_code == 200
        body = response.json()
        assert (body["total"], body["page"], body["per_page"], body["pages"]) == (10, 2, 5, 2)
        assert [p["name"] for p in body["items"]] == [
            "Lamp 18",
            "Lamp 16",
            "Lamp 14",
            "Lamp 12",
            "Lamp 10",
        ]
        assert body["items"][0]["price"] == "28.00"
        found = await client.get("/api/v1/products", params={"q": "chai"})
        assert [p["name"] for p in found.json()["items"]] == ["Chair"]

    @pytest.mark.parametrize(
        ("query", "status", "named"),
        [
            ("colour=red", 400, "colour"),
            ("ordering=-nope", 400, "nope"),
            ("ordering=price,secret", 400, "secret"),
            ("per_page=101", 422, "per_page"),
            ("page=0", 422, "page"),
            ("price_min=abc", 422, "price_min"),
            ("q=%00", 400, "NUL"),
        ],
    )
    async def test_bad_queries_are_4xx_naming_the_field(
        self, client: httpx.AsyncClient, query: str, status: int, named: str
    ) -> None:
        response = await client.get(f"/api/v1/products?{query}")
        assert response.status_code == status
        body = response.json()
        assert set(body) >= {"detail", "code"}
        assert named in str(body)

    async def test_etags_and_304(self, client: httpx.AsyncClient, staff: dict[str, Any]) -> None:
        product = await make_product(name="Tagged")
        for path in ("/api/v1/products", f"/api/v1/products/{product.id}"):
            first = await client.get(path)
            etag = first.headers["etag"]
            again = await client.get(path, headers={"If-None-Match": etag})
            assert again.status_code == 304
            assert again.content == b""
            assert again.headers["etag"] == etag
        changed = await client.patch(
            f"/api/v1/products/{product.id}", json={"price": "99.99"}, headers=staff["marketing"]
        )
        assert changed.status_code == 200
        fresh = await client.get(f"/api/v1/products/{product.id}", headers={"If-None-Match": etag})
        assert fresh.status_code == 200
        assert fresh.json()["price"] == "99.99"

    async def test_write_permissions(
        self, client: httpx.AsyncClient, staff: dict[str, Any]
    ) -> None:
        new = {"name": "Desk", "price": "120.00", "category": "Furniture"}
        assert (await client.post("/api/v1/products", json=new)).status_code == 401
        for role in ("support", "sales", "plain"):
            response = await client.post("/api/v1/products", json=new, headers=staff[role])
            assert response.status_code == 403, role
            assert response.json()["code"] == "permission_denied"
        created = await client.post("/api/v1/products", json=new, headers=staff["marketing"])
        assert created.status_code == 201
        product_id = created.json()["id"]
        assert (
            await client.delete(f"/api/v1/products/{product_id}", headers=staff["marketing"])
        ).status_code == 403
        assert (
            await client.delete(f"/api/v1/products/{product_id}", headers=staff["root"])
        ).status_code == 204
        assert (await client.get(f"/api/v1/products/{product_id}")).status_code == 404
        trail = (
            await AuditLog.objects.filter(object_type="Product")
            .order_by("id")
            .values_list("action", "actor_email")
        )
        assert [(str(a), e) for a, e in trail] == [
            ("create", "marketing@example.com"),
            ("delete", "root@example.com"),
        ]
        assert await Product.objects.count() == 0

    @pytest.mark.parametrize(
        "body",
        [
            {"name": "", "price": "1", "category": "x"},
            {"name": "Desk", "price": "-1", "category": "x"},
            {"name": "Desk", "price": "1.234", "category": "x"},
            {"name": "Desk", "price": "1", "category": "x", "is_admin": True},
            {"name": "Desk"},
            [],
            "not an object",
        ],
    )
    async def test_invalid_bodies_are_422_with_field_errors(
        self, client: httpx.AsyncClient, staff: dict[str, Any], body: Any
    ) -> None:
        response = await client.post("/api/v1/products", json=body, headers=staff["marketing"])
        assert response.status_code == 422
        assert response.json()["code"] == "invalid"
        assert response.json()["errors"]
        assert await Product.objects.count() == 0

    async def test_malformed_and_oversized_bodies(
        self, client: httpx.AsyncClient, staff: dict[str, Any], settings: Any
    ) -> None:
        headers = staff["marketing"] | {"content-type": "application/json"}
        broken = await client.post("/api/v1/products", content=b'{"name": ', headers=headers)
        assert broken.status_code == 422
        huge = b'{"name": "' + b"x" * (settings.max_upload_size + 2 * 1024 * 1024) + b'"}'
        too_large = await client.post("/api/v1/products", content=huge, headers=headers)
        assert too_large.status_code == 413
        assert too_large.json()["code"] == "too_large"

    async def test_cookie_sessions_need_the_csrf_header(self, client: httpx.AsyncClient) -> None:
        await make_user(email="web@example.com", is_staff=True, groups=("Marketing",))
        page = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
        await client.post(
            "/login", data={"email": "web@example.com", "password": PASSWORD, "csrf_token": token}
        )
        body = {"name": "Desk", "price": "1", "category": "x"}
        refused = await client.post("/api/v1/products", json=body)
        assert refused.status_code == 403
        account = await client.get("/account")
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', account.text).group(1)  # type: ignore[union-attr]
        accepted = await client.post("/api/v1/products", json=body, headers={"X-CSRF-Token": token})
        assert accepted.status_code == 201

    async def test_list_queries_do_not_grow_with_page_size(
        self, client: httpx.AsyncClient, app: Any
    ) -> None:
        for _ in range(40):
            await make_product()
        with count_queries(app.state.db.engine) as few:
            await client.get("/api/v1/products?per_page=5")
        with count_queries(app.state.db.engine) as many:
            await client.get("/api/v1/products?per_page=40")
        assert few.count == many.count <= 3


class TestWebinars:
    async def test_list_and_detail_with_counts(self, client: httpx.AsyncClient) -> None:
        soon = await make_webinar(title="Soon")
        await make_registrant(soon)
        await make_webinar(title="Past", starts_at=utcnow() - timedelta(days=2))
        listed = (await client.get("/api/v1/webinars")).json()
        assert [(w["title"], w["registrant_count"]) for w in listed["items"]] == [("Soon", 1)]
        everything = (await client.get("/api/v1/webinars?include_past=true")).json()
        assert everything["total"] == 2
        detail = await client.get(f"/api/v1/webinars/{soon.id}")
        assert detail.json()["registrant_count"] == 1
        assert (await client.get("/api/v1/webinars/999999")).status_code == 404

    async def test_public_registration(self, client: httpx.AsyncClient) -> None:
        webinar = await make_webinar()
        data = {"name": "Ann", "email": "Ann@Example.com", "company": "Acme"}
        created = await client.post(f"/api/v1/webinars/{webinar.id}/register", json=data)
        assert created.status_code == 201
        assert "email" not in created.json()
        assert "notes" not in created.json()
        duplicate = await client.post(
            f"/api/v1/webinars/{webinar.id}/register", json=data | {"email": "ann@example.com"}
        )
        assert duplicate.status_code == 409
        assert duplicate.json()["code"] == "conflict"
        bad = await client.post(
            f"/api/v1/webinars/{webinar.id}/register", json={"name": "B", "email": "not-an-email"}
        )
        assert bad.status_code == 422
        past = await make_webinar(starts_at=utcnow() - timedelta(hours=1))
        closed = await client.post(f"/api/v1/webinars/{past.id}/register", json=data)
        assert closed.status_code == 409
        assert (await client.post("/api/v1/webinars/999999/register", json=data)).status_code == 404
        assert await WebinarRegistrant.objects.count() == 1

    async def test_registrants_need_permission_and_hide_nothing_from_staff(
        self, client: httpx.AsyncClient, staff: dict[str, Any]
    ) -> None:
        webinar = await make_webinar()
        registrant = await make_registrant(
            webinar, name="Zoe", email="zoe@example.com", notes="VIP"
        )
        await make_registrant(webinar, name="Abe", company="Other")
        path = f"/api/v1/webinars/{webinar.id}/registrants"
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers=staff["marketing"])).status_code == 403
        listed = await client.get(path, params={"q": "zoe"}, headers=staff["support"])
        assert listed.status_code == 200
        (item,) = listed.json()["items"]
        assert (item["email"], item["notes"]) == ("zoe@example.com", "VIP")
        assert (
            await client.get(path, params={"status": "bogus"}, headers=staff["sales"])
        ).status_code == 422
        patch = {"status": "confirmed", "notes": "<b>called</b>"}
        url = f"/api/v1/registrants/{registrant.id}"
        assert (await client.patch(url, json=patch, headers=staff["support"])).status_code == 403
        changed = await client.patch(url, json=patch, headers=staff["sales"])
        assert changed.status_code == 200
        assert changed.json()["status"] == "confirmed"
        entry = await AuditLog.objects.get(object_type="WebinarRegistrant")
        assert entry.changes["status"] == ["registered", "confirmed"]
        assert entry.actor_email == "sales@example.com"


async def test_cors_follows_settings(settings: Any) -> None:
    from main import create_app

    app = create_app(settings.model_copy(update={"cors_origins": ["https://shop.example.com"]}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        preflight = await client.options(
            "/api/v1/products",
            headers={"Origin": "https://shop.example.com", "Access-Control-Request-Method": "GET"},
        )
        assert preflight.headers["access-control-allow-origin"] == "https://shop.example.com"
        other = await client.options(
            "/api/v1/products",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_docs_work_offline(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc"):
        page = await client.get(path)
        assert page.status_code == 200
        urls = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(
            r"url: '([^']+)'", page.text
        )
        assert urls
        for url in urls:
            assert url.startswith("/"), f"{path} loads {url} from elsewhere"
            assert (await client.get(url)).status_code == 200, url
        assert "cdn" not in page.text.lower()
    schema = (await client.get("/openapi.json")).json()
    product_post = schema["paths"]["/api/v1/products"]["post"]["responses"]
    assert {"201", "401", "403", "413", "422"} <= set(product_post)
    register = schema["paths"]["/api/v1/webinars/{webinar_id}/register"]["post"]["responses"]
    assert {"201", "404", "409", "422"} <= set(register)
    assert {"200", "401", "429"} <= set(schema["paths"]["/api/v1/auth/token"]["post"]["responses"])


async def test_every_list_endpoint_keeps_its_query_count(
    client: httpx.AsyncClient, app: Any, staff: dict[str, Any]
) -> None:
    for i in range(12):
        webinar = await make_webinar()
        for _ in range(2):
            await make_registrant(webinar)
        await make_product(name=f"Item {i}")
    target = (await client.get("/api/v1/webinars")).json()["items"][0]["id"]
    for path in ("/api/v1/products", "/api/v1/webinars", f"/api/v1/webinars/{target}/registrants"):
        counts = []
        for size in (2, 12):
            with count_queries(app.state.db.engine) as queries:
                response = await client.get(path, params={"per_page": size}, headers=staff["root"])
            assert response.status_code == 200, path
            counts.append(queries.count)
        assert counts[0] == counts[1], (path, counts)
