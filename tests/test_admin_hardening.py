"""Issue 11: the admin reads nothing from the file system, keeps file names storage keys,
and answers every malformed request with a 4xx page, never a 500.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from fastmango.accounts.models import Group
from fastmango.admin import admin
from fastmango.storage import Storage
from models import WebinarRegistrant
from services import WebinarService
from settings import BASE_DIR
from tests.test_admin import form_values
from tests.utils import csrf_token, login, make_product, make_registrant, make_user, make_webinar

pytestmark = pytest.mark.usefixtures("session")
ERROR_PAGE = 'data-testid="error-page"'
# What a path read from the working directory would give away.
SECRET_FILES = {"settings.py": "class Settings", ".git/config": "[core]"}
UNSAFE_PHOTO = "../../../../etc/passwd"


def picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 120, 200)).save(out, "JPEG")
    return out.getvalue()


async def sign_in(client: httpx.AsyncClient, **flags: Any) -> str:
    """Sign in a new user with `flags` (groups=..., is_staff=...); returns a CSRF token."""
    client.cookies.clear()
    user = await make_user(**flags)
    await login(client, user.email)
    return await csrf_token(client, "/account")


async def store_raw_photo(registrant_id: int, value: str) -> None:
    """A value already in the database, written around every model rule (old data, a dump)."""
    session = WebinarRegistrant.objects.session
    await session.execute(
        text("UPDATE webinar_registrants SET photo = :photo WHERE id = :id"),
        {"photo": value, "id": registrant_id},
    )
    await session.commit()


async def photo_in_db(registrant_id: int) -> str | None:
    session = WebinarRegistrant.objects.session
    await session.commit()  # a fresh snapshot: SQLite would show the old one
    rows = await session.execute(
        text("SELECT photo FROM webinar_registrants WHERE id = :id"), {"id": registrant_id}
    )
    value: str | None = rows.scalar_one()
    return value


# -- 1: no file system reads through column values ------------------------------------------


@pytest.mark.parametrize("filename", list(SECRET_FILES))
async def test_column_values_are_never_served_as_files(
    client: httpx.AsyncClient, filename: str
) -> None:
    assert (BASE_DIR / filename).is_file()  # the file the probe asks for is really there
    webinar = await make_webinar()
    # An anonymous visitor picks the "company"; a product can carry any name too.
    token = await csrf_token(client, f"/webinars/{webinar.id}/register")
    form = {"name": "Eve", "email": "eve@example.com", "company": filename, "csrf_token": token}
    assert (await client.post(f"/webinars/{webinar.id}/register", data=form)).status_code == 303
    registrant = await WebinarRegistrant.objects.get(email="eve@example.com")
    product = await make_product(name=filename)
    probes = [
        f"/admin/webinar-registrant/{registrant.id}/company/",
        f"/admin/webinar-registrant/{registrant.id}/name/",
        f"/admin/product/{product.id}/name/",
    ]
    for flags in ({"is_staff": True, "groups": ("Support",)}, {"is_superuser": True}):
        await sign_in(client, **flags)
        for probe in probes:
            for kind in ("download/", "preview/"):
                response = await client.get(probe + kind)
                assert response.status_code == 404, (probe + kind, response.status_code)
                assert SECRET_FILES[filename] not in response.text
                assert ERROR_PAGE in response.text


@pytest.fixture
async def storage(app: Any) -> Storage:
    backend: Storage = app.state.storage
    return backend


async def test_the_photo_is_served_through_the_storage_backend_only(
    client: httpx.AsyncClient, storage: Storage
) -> None:
    webinar = await make_webinar()
    with_photo, without, broken = [await make_registrant(webinar) for _ in range(3)]
    service = WebinarService()
    stored = await service.set_photo(with_photo.pk, picture(), storage, max_bytes=1_000_000)
    assert stored.photo is not None
    await store_raw_photo(broken.pk, UNSAFE_PHOTO)
    base = "/admin/webinar-registrant"
    anonymous = await client.get(f"{base}/{with_photo.pk}/photo/preview/")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=")
    await sign_in(client, is_staff=True, groups=("Marketing",))  # no registrant permission
    assert (await client.get(f"{base}/{with_photo.pk}/photo/preview/")).status_code == 403
    await sign_in(client, is_staff=True, groups=("Support",))
    details = await client.get(f"{base}/details/{with_photo.pk}")
    link = f'href="http://testserver{base}/{with_photo.pk}/photo/preview/"'
    assert link in details.text
    shown = (await client.get(f"{base}/details/{broken.pk}")).text
    assert "(not a stored file)" in shown
    assert "etc/passwd" not in shown
    for kind in ("preview/", "download/"):
        response = await client.get(f"{base}/{with_photo.pk}/photo/{kind}")
        assert response.status_code == 303
        assert response.headers["location"] == storage.url(stored.photo)
        fetched = await client.get(response.headers["location"])
        assert fetched.status_code == 200
        assert fetched.content == await storage.read(stored.photo)
        for row in (without, broken):
            missing = await client.get(f"{base}/{row.pk}/photo/{kind}")
            assert missing.status_code == 404
            assert "root:" not in missing.text
        assert (await client.get(f"{base}/999999/photo/{kind}")).status_code == 404


# -- 6: file names are storage keys, and a bad stored one breaks nothing ---------------------


async def test_the_admin_form_cannot_set_a_photo_path(client: httpx.AsyncClient) -> None:
    webinar = await make_webinar()
    registrant = await make_registrant(webinar)
    token = await sign_in(client, is_staff=True, groups=("Sales",))
    url = f"/admin/webinar-registrant/edit/{registrant.pk}"
    page = await client.get(url)
    assert page.status_code == 200
    # Shown read-only: uploads and removal are on the registrants page, through storage.
    field = re.search(r'<input[^>]*name="photo"[^>]*>', page.text)
    assert field
    assert " readonly " in field.group(0)
    form = {
        "webinar": str(webinar.pk), "name": "Renamed", "email": registrant.email,
        "company": "Acme", "status": "confirmed", "notes": "", "photo": UNSAFE_PHOTO,
        "save": "Save", "csrf_token": token,
    }  # fmt: skip
    response = await client.post(url, data=form)
    assert response.status_code == 302, response.text
    assert await photo_in_db(registrant.pk) is None  # the rest of the form was saved
    assert (await client.get(f"/admin/webinar-registrant/details/{registrant.pk}")).is_success


@pytest.mark.parametrize("name", [UNSAFE_PHOTO, "/etc/passwd", "settings.py/../.env", ""])
async def test_the_model_refuses_names_that_are_not_storage_keys(name: str) -> None:
    webinar = await make_webinar()
    with pytest.raises(PydanticValidationError, match="photo"):
        await make_registrant(webinar, photo=name)
    registrant = await make_registrant(webinar)
    rid = registrant.pk  # the rollbacks below expire the instance
    # Around validation too: an assignment, or an UPDATE statement.
    registrant.photo = name
    with pytest.raises(StatementError, match="Unsafe storage name"):
        await registrant.save()
    await WebinarRegistrant.objects.session.rollback()
    with pytest.raises(StatementError, match="Unsafe storage name"):
        await WebinarRegistrant.objects.filter(id=rid).update(photo=name)
    await WebinarRegistrant.objects.session.rollback()
    assert await photo_in_db(rid) is None


async def test_a_bad_stored_photo_shows_as_none_and_can_be_removed(
    client: httpx.AsyncClient, storage: Storage
) -> None:
    webinar = await make_webinar()
    registrant = await make_registrant(webinar, name="Broken Photo")
    await store_raw_photo(registrant.pk, UNSAFE_PHOTO)
    token = await sign_in(client, is_staff=True, groups=("Sales",))
    page = await client.get(f"/webinars/{webinar.id}/registrants")
    assert page.status_code == 200
    assert 'data-testid="registrant-photo"' not in page.text
    assert "etc/passwd" not in page.text
    for path in (f"details/{registrant.pk}", f"edit/{registrant.pk}", "list"):
        assert (await client.get(f"/admin/webinar-registrant/{path}")).status_code == 200
    removed = await client.post(
        f"/registrants/{registrant.pk}/photo/delete",
        data={"csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert removed.status_code == 200, removed.text
    assert "Photo removed." in removed.text
    assert await photo_in_db(registrant.pk) is None
    # A new upload over a bad value works too (the old "file" is never touched).
    await store_raw_photo(registrant.pk, UNSAFE_PHOTO)
    uploaded = await client.post(
        f"/registrants/{registrant.pk}/photo",
        data={"csrf_token": token},
        files={"photo": ("me.jpg", picture(), "image/jpeg")},
        headers={"HX-Request": "true"},
    )
    assert uploaded.status_code == 200, uploaded.text
    name = await photo_in_db(registrant.pk)
    assert name is not None
    assert name.startswith("registrants/")
    assert Path("/etc/passwd").exists()


# -- 8: malformed admin input is a 4xx page -------------------------------------------------


async def test_the_reported_probes_get_the_site_error_page(client: httpx.AsyncClient) -> None:
    product = await make_product()
    await sign_in(client, is_superuser=True)
    probes = {
        "/admin/webinar-registrant/list?webinar_id=abc": 400,
        "/admin/webinar-registrant/list?status=bogus": 400,
        "/admin/product/details/abc": 404,
        "/admin/product/edit/99999999999999999999999": 404,
        "/admin/product/details/1%00": 404,
        f"/admin/product/{product.pk}/name/download/": 404,
    }
    for url, expected in probes.items():
        response = await client.get(url)
        assert (response.status_code, ERROR_PAGE in response.text) == (expected, True), url
    json = await client.get("/admin/product/details/abc", headers={"Accept": "application/json"})
    assert (json.status_code, json.json()["code"]) == (404, "not_found")


async def test_a_form_value_beyond_its_column_is_a_form_error(client: httpx.AsyncClient) -> None:
    webinar = await make_webinar(duration_minutes=45)
    await sign_in(client, is_superuser=True)
    url = f"/admin/webinar/edit/{webinar.pk}"
    form = await form_values(client, url) | {"duration_minutes": "99999999999999999999"}
    response = await client.post(url, data=form)
    # The same message on SQLite and PostgreSQL, naming the field, not the driver's error.
    assert response.status_code == 400
    assert "duration_minutes: Invalid value 99999999999999999999" in response.text
    assert "out of range" in response.text
    assert "asyncpg" not in response.text
    assert "SQLite" not in response.text


BAD_IDS = [
    "abc", "99999999999999999999999", "-99999999999999999999999", "2147483648", "1%00",
    "1.5", "%20", "1;2", "9" * 5000,
]  # fmt: skip
# For list parameters (filters, search, sorting, paging) and for form fields.
BAD_VALUES = ["abc", "99999999999999999999999", "-1", "\x00", "1\x00", "__all"]
BAD_FIELDS = ["\x00", "99999999999999999999999", "abc", "x" * 5000]


@dataclass
class Walk:
    client: httpx.AsyncClient
    token: str
    failures: list[str]

    async def check(self, method: str, url: str, **kwargs: Any) -> None:
        response = await self.client.request(method, url, **kwargs)
        if response.status_code >= 500:
            self.failures.append(f"{method} {url} {kwargs.get('params', '')}: 500")


async def one_row_each() -> dict[str, int]:
    """A row per admin view, so the good-id routes have something to find."""
    webinar = await make_webinar()
    return {
        "product": (await make_product()).pk,
        "webinar": webinar.pk,
        "webinar-registrant": (await make_registrant(webinar)).pk,
        "user": (await make_user()).pk,
        "group": (await Group.objects.create(name="Walkers")).pk,
    }


async def test_every_admin_route_answers_bad_input_with_a_4xx(client: httpx.AsyncClient) -> None:
    rows = await one_row_each()
    token = await sign_in(client, is_superuser=True)
    walk = Walk(client, token, [])
    header = {"X-CSRF-Token": token}
    assert set(rows) | {"audit-log"} == set(admin.registry)
    for identity, view in admin.registry.items():
        base = f"/admin/{identity}"
        columns: list[str] = list(sa_inspect(view.model).column_attrs.keys())
        # The list, with every filter and list parameter given bad values.
        params = [f.parameter_name for f in view.column_filters]
        params += ["search", "sortBy", "sort", "page", "pageSize"]
        for name in params:
            for value in BAD_VALUES:
                await walk.check("GET", f"{base}/list", params={name: value})
        # Every route that takes an id, with ids no row has or no column can hold.
        good = str(rows.get(identity, 1))
        for pk in BAD_IDS:
            await walk.check("GET", f"{base}/details/{pk}")
            await walk.check("GET", f"{base}/edit/{pk}")
            await walk.check("POST", f"{base}/edit/{pk}", data={"csrf_token": token})
            await walk.check("DELETE", f"{base}/delete?pks={pk}", headers=header)
            await walk.check("DELETE", f"{base}/delete?pks={good},{pk}", headers=header)
            for slug in view.action_permissions:
                await walk.check("GET", f"{base}/action/{slug}?pks={pk}", headers=header)
                await walk.check("GET", f"{base}/action/{slug}?pks={good},{pk}", headers=header)
            for kind in ("download", "preview"):
                await walk.check("GET", f"{base}/{pk}/{columns[0]}/{kind}/")
        # The file routes, for every column of a real row and names that are none.
        for column in [*columns, "nope", "..", "%2e%2e", "%00"]:
            for kind in ("download", "preview"):
                await walk.check("GET", f"{base}/{good}/{column}/{kind}/")
        # Create and edit: the form as drawn, one field at a time given a bad value.
        drawn = await form_values(client, f"{base}/edit/{good}") if view.can_edit else {}
        for field in [name for name in drawn if name not in {"csrf_token", "save"}]:
            for value in BAD_FIELDS:
                form = drawn | {field: value}
                await walk.check("POST", f"{base}/edit/{good}", data=form)
                if view.can_create:
                    await walk.check("POST", f"{base}/create", data=form)
        for export in ("csv", "json", "xml", "%00"):
            await walk.check("GET", f"{base}/export/{export}")
        await walk.check("GET", f"{base}/ajax/lookup", params={"name": "x", "term": "\x00"})
    await walk.check("GET", "/admin/nope/list")
    await walk.check("GET", "/admin/nope/details/1")
    assert not walk.failures, "\n".join(walk.failures)
