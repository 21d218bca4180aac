"""Staff registrant pages: permissions, search, inline edits (escaped), photos, CSV export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from html import unescape as html_unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from main import create_app
from models import RegistrantStatus, Webinar, WebinarRegistrant
from settings import Settings
from tests.conftest import make_settings
from tests.s3server import S3Server, s3_server
from tests.utils import csrf_token, login, make_registrant, make_user, make_webinar, serve

__all__ = ["s3_server"]
pytestmark = pytest.mark.usefixtures("session")
HTMX = {"HX-Request": "true"}


def jpeg(size: tuple[int, int] = (900, 600)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


async def staff(client: httpx.AsyncClient, group: str = "Sales") -> str:
    """Sign `client` in as staff of `group`; returns a CSRF token for posts."""
    await login(client, (await make_user(groups=(group,), is_staff=True)).email)
    return await csrf_token(client, "/account")


async def reload(registrant: WebinarRegistrant) -> WebinarRegistrant:
    # End the test session's read transaction first: SQLite would show its old snapshot.
    await WebinarRegistrant.objects.session.commit()
    await registrant.refresh()
    return registrant


@pytest.fixture
async def webinar() -> Webinar:
    return await make_webinar(title="Launch day")


async def test_anonymous_redirect_and_users_without_permission_get_403(
    client: httpx.AsyncClient, webinar: Webinar
) -> None:
    registrant = await make_registrant(webinar)
    url = f"/webinars/{webinar.id}/registrants"
    anonymous = await client.get(url)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/login?next=%2Fwebinars%2F{webinar.id}%2Fregistrants"
    token = await csrf_token(client)
    posted = await client.post(f"/registrants/{registrant.id}/notes", data={"csrf_token": token})
    assert posted.status_code == 401
    await login(client, (await make_user()).email)
    assert (await client.get(url)).status_code == 403
    assert (await client.get(f"{url}.csv")).status_code == 403
    token = await csrf_token(client, "/account")
    refused = await client.post(
        f"/registrants/{registrant.id}/status", data={"csrf_token": token, "status": "attended"}
    )
    assert refused.status_code == 403
    assert (await reload(registrant)).status == RegistrantStatus.REGISTERED


async def test_view_only_staff_see_cards_without_edit_forms(
    client: httpx.AsyncClient, webinar: Webinar
) -> None:
    await make_registrant(webinar, name="Grace Hopper", notes="VIP")
    token = await staff(client, "Support")
    page = await client.get(f"/webinars/{webinar.id}/registrants")
    assert page.status_code == 200
    assert "Grace Hopper" in page.text
    assert "VIP" in page.text
    assert 'data-testid="notes-form"' not in page.text
    assert 'data-testid="photo-input"' not in page.text
    registrant = await WebinarRegistrant.objects.get(name="Grace Hopper")
    change = await client.post(
        f"/registrants/{registrant.id}/notes", data={"csrf_token": token, "notes": "x"}
    )
    assert change.status_code == 403


async def test_search_and_status_filter_full_page_and_fragment(
    client: httpx.AsyncClient, webinar: Webinar
) -> None:
    await make_registrant(webinar, name="Ada Lovelace", company="Analytical")
    await make_registrant(webinar, name="Alan Turing", status=RegistrantStatus.ATTENDED)
    await make_registrant(await make_webinar(), name="Ada Elsewhere")
    await staff(client)
    url = f"/webinars/{webinar.id}/registrants"
    # The form's "Every status" option sends `status=`: no filter.
    page = await client.get(url, params={"q": "ada", "status": ""})
    assert "Ada Lovelace" in page.text
    assert "Alan Turing" not in page.text
    assert "Ada Elsewhere" not in page.text
    fragment = await client.get(url, params={"status": "attended"}, headers=HTMX)
    assert fragment.text.lstrip().startswith('<div id="registrant-grid"')
    assert "Alan Turing" in fragment.text
    assert "Ada Lovelace" not in fragment.text
    assert "HX-Request" in fragment.headers["vary"]
    assert (await client.get(url, params={"status": "lost"})).status_code == 400
    assert (await client.get("/webinars/424242/registrants")).status_code == 404


async def test_status_change_returns_the_card(client: httpx.AsyncClient, webinar: Webinar) -> None:
    registrant = await make_registrant(webinar)
    token = await staff(client)
    url = f"/registrants/{registrant.id}/status"
    card = await client.post(url, data={"csrf_token": token, "status": "confirmed"}, headers=HTMX)
    assert card.status_code == 200
    assert card.text.lstrip().startswith(f'<article id="registrant-{registrant.id}"')
    assert "Status saved." in card.text
    assert (await reload(registrant)).status == RegistrantStatus.CONFIRMED
    bad = await client.post(url, data={"csrf_token": token, "status": "lost"}, headers=HTMX)
    assert bad.status_code == 422
    assert "Choose a status." in bad.text
    # Without htmx: back to the grid with a message.
    plain = await client.post(url, data={"csrf_token": token, "status": "attended"})
    assert plain.status_code == 303
    assert plain.headers["location"].endswith(f"/registrants#registrant-{registrant.id}")
    assert "Status saved." in (await client.get(plain.headers["location"])).text


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "</textarea><svg onload=alert(1)>",
        "{{ 7*7 }} {% raw %}",
    ],
)
async def test_notes_are_saved_as_text_and_always_escaped(
    client: httpx.AsyncClient, webinar: Webinar, hostile: str
) -> None:
    registrant = await make_registrant(webinar)
    token = await staff(client)
    card = await client.post(
        f"/registrants/{registrant.id}/notes",
        data={"csrf_token": token, "notes": f"line one\r\n{hostile}"},
        headers=HTMX,
    )
    assert card.status_code == 200
    assert (await reload(registrant)).notes == f"line one\n{hostile}"
    page = await client.get(f"/webinars/{webinar.id}/registrants")
    for html in (card.text, page.text):
        assert "<script>alert" not in html
        assert "onerror=alert(1)>" not in html
        assert "<svg onload" not in html
        shown = re.findall(r'data-testid="registrant-notes">([^<]*)<', html)
        assert shown, "notes not shown"
        # Shown as the text that was typed: escaped, never run as a template.
        assert html_unescape(shown[0]) == f"line one\n{hostile}"
    too_long = await client.post(
        f"/registrants/{registrant.id}/notes",
        data={"csrf_token": token, "notes": "x" * 10_001},
        headers=HTMX,
    )
    assert too_long.status_code == 422
    assert "Use at most 10000 characters." in too_long.text
    assert 'data-editing="true"' in too_long.text  # the editor stays open with the error


class TestPhotos:
    @pytest.fixture(params=["local", "s3"])
    async def photo_client(
        self, request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
    ) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
        """A client of an app storing media on local disk or on the S3 test server."""
        overrides: dict[str, Any] = {"media_root": tmp_path / "media", "max_upload_size": 200_000}
        if request.param == "s3":
            server: S3Server = request.getfixturevalue("s3_server")
            overrides |= server.settings()
        app = create_app(make_settings(settings.database_url, **overrides))
        async with serve(app) as client:
            yield client, app.state.storage

    async def test_upload_shows_the_photo_and_remove_deletes_it(
        self, photo_client: tuple[httpx.AsyncClient, Any], webinar: Webinar
    ) -> None:
        client, storage = photo_client
        registrant = await make_registrant(webinar, name="Photo Person")
        token = await staff(client)
        card = await client.post(
            f"/registrants/{registrant.id}/photo",
            data={"csrf_token": token},
            files={"photo": ("me.png", jpeg(), "image/png")},  # the declared type is ignored
            headers=HTMX,
        )
        assert card.status_code == 200, card.text
        assert "Photo saved." in card.text
        name = (await reload(registrant)).photo
        assert name
        assert name.startswith("registrants/")
        assert "me" not in name
        src = re.search(r'<img src="([^"]+)" alt="Photo of Photo Person"', card.text)
        assert src
        assert src.group(1) == storage.url(name)
        stored = Image.open(io.BytesIO(await storage.read(name)))
        assert max(stored.size) <= 512  # resized
        removed = await client.post(
            f"/registrants/{registrant.id}/photo/delete", data={"csrf_token": token}, headers=HTMX
        )
        assert removed.status_code == 200
        assert "registrant-photo" not in removed.text
        assert (await reload(registrant)).photo is None
        with pytest.raises(FileNotFoundError):
            await storage.read(name)

    @pytest.mark.parametrize(
        ("filename", "content", "status", "message"),
        [
            ("fake.jpg", b"<html><script>alert(1)</script></html>", 422, "not a JPEG, PNG or WebP"),
            ("anim.jpg", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", 422, "not a JPEG, PNG or WebP"),
            ("empty.jpg", b"", 422, "The file is empty."),
            ("big.jpg", b"\xff\xd8" + b"0" * 250_000, 413, "larger than"),
        ],
    )
    async def test_bad_uploads_get_an_inline_error_and_keep_the_old_photo(
        self,
        photo_client: tuple[httpx.AsyncClient, Any],
        webinar: Webinar,
        filename: str,
        content: bytes,
        status: int,
        message: str,
    ) -> None:
        client, _storage = photo_client
        registrant = await make_registrant(webinar)
        token = await staff(client)
        url = f"/registrants/{registrant.id}/photo"
        ok = await client.post(
            url, data={"csrf_token": token}, files={"photo": ("a.jpg", jpeg(), "image/jpeg")}
        )
        assert ok.status_code == 303
        before = (await reload(registrant)).photo
        response = await client.post(
            url,
            data={"csrf_token": token},
            files={"photo": (filename, content, "image/jpeg")},
            headers=HTMX,
        )
        assert response.status_code == status
        assert message in response.text
        assert 'data-testid="photo-error"' in response.text
        assert (await reload(registrant)).photo == before

    async def test_a_body_far_over_the_limit_is_refused_before_reading(
        self, photo_client: tuple[httpx.AsyncClient, Any], webinar: Webinar
    ) -> None:
        client, _storage = photo_client
        registrant = await make_registrant(webinar)
        token = await staff(client)
        huge = b"\xff\xd8" + b"0" * 2_000_000  # over max_upload_size + the form allowance
        response = await client.post(
            f"/registrants/{registrant.id}/photo",
            data={"csrf_token": token},
            files={"photo": ("huge.jpg", huge, "image/jpeg")},
        )
        assert response.status_code == 413


async def test_csv_export_has_every_match_and_defuses_formulas(
    client: httpx.AsyncClient, webinar: Webinar
) -> None:
    await make_registrant(webinar, name='=HYPERLINK("http://evil")', notes="+1 call back")
    for i in range(3):
        await make_registrant(webinar, name=f"Member {i}", company="ACME, Inc.")
    await make_registrant(await make_webinar(), name="Other webinar")
    await staff(client, "Support")
    response = await client.get(f"/webinars/{webinar.id}/registrants.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 4
    assert {r["company"] for r in rows} >= {"ACME, Inc."}
    hostile = next(r for r in rows if "HYPERLINK" in r["name"])
    assert hostile["name"].startswith("'=")
    assert hostile["notes"] == "'+1 call back"
    filtered = await client.get(f"/webinars/{webinar.id}/registrants.csv", params={"q": "member"})
    assert len(list(csv.DictReader(io.StringIO(filtered.text)))) == 3
