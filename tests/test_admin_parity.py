"""Issue 12: the Django admin parity a new user hits writing a blog (author, published_at, slug).

Duplicates are form errors (400, nothing saved, no traceback), date and foreign key
list filters, prepopulated fields, Django options we lack refused at registration, and
`Model.objects.create(author=user)`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqladmin.helpers import slugify_class_name
from sqlalchemy import Column, Date, DateTime

from fastmango.accounts.models import Group, User
from fastmango.admin import admin, unique
from fastmango.admin.filters import DateFilter
from fastmango.admin.options import ModelAdmin, registry
from fastmango.admin.slugs import slugify
from fastmango.orm import FieldError, utcnow
from main import create_app
from models import Conversation, Webinar, WebinarRegistrant
from settings import Settings
from tests.utils import csrf_token, login, make_registrant, make_user, make_webinar, serve

pytestmark = pytest.mark.usefixtures("session")
Install = Callable[[type[Any], type[ModelAdmin]], type[ModelAdmin]]


@pytest.fixture
def install() -> Iterator[Install]:
    """Register admin classes for one test (replacing the project's), restored afterwards."""
    saved = dict(registry)

    def register(model: type[Any], admin_class: type[ModelAdmin]) -> type[ModelAdmin]:
        registry.pop(slugify_class_name(model.__name__), None)
        return admin.register(model)(admin_class)

    yield register
    registry.clear()
    registry.update(saved)


@asynccontextmanager
async def superuser_client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """An app built now (with what is registered now) and a signed-in superuser's client."""
    async with serve(create_app(settings)) as client:
        user = await make_user(is_superuser=True)
        await login(client, user.email)
        yield client, await csrf_token(client, "/account")


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


async def fresh_count(model: type[Any], **lookup: Any) -> int:
    await model.objects.session.commit()  # a new snapshot: SQLite would show the old one
    count: int = await model.objects.filter(**lookup).count()
    return count


# -- 3: a duplicate is a form error ---------------------------------------------------------


async def test_a_taken_unique_name_is_an_error_on_its_field(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    await Group.objects.create(name="Editors")
    other = await Group.objects.create(name="Writers")
    async with superuser_client(settings) as (client, token):
        form = {"name": "Editors", "save": "Save", "csrf_token": token}
        created = await client.post("/admin/group/create", data=form)
        edited = await client.post(f"/admin/group/edit/{other.pk}", data=form)
        unchanged = await client.post(
            f"/admin/group/edit/{other.pk}", data=form | {"name": "Writers"}
        )
    for response in (created, edited):
        assert response.status_code == 400
        assert "A group with this name already exists." in response.text
        assert "IntegrityError" not in response.text
        assert "UNIQUE constraint" not in response.text
        assert "duplicate key" not in response.text
    assert unchanged.status_code == 302  # the row's own value is not a duplicate
    assert await fresh_count(Group, name="Editors") == 1
    assert await fresh_count(Group, name="Writers") == 1
    assert errors_logged(caplog) == []


async def test_a_taken_email_in_a_unique_index_is_an_error_on_its_field(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    await make_user(email="taken@example.com")
    async with superuser_client(settings) as (client, token):
        form = {"email": "taken@example.com", "password": "a-long-new-passphrase-1",
                "is_active": "y", "save": "Save", "csrf_token": token}  # fmt: skip
        response = await client.post("/admin/user/create", data=form)
    assert response.status_code == 400
    assert "A user with this email already exists." in response.text
    assert await fresh_count(User, email="taken@example.com") == 1
    assert errors_logged(caplog) == []


async def test_a_taken_pair_is_a_form_error_naming_both_fields(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    webinar = await make_webinar()
    await make_registrant(webinar, email="ada@example.com")
    other = await make_webinar()
    async with superuser_client(settings) as (client, token):
        form = {"webinar": str(webinar.pk), "name": "Ada", "email": "ada@example.com",
                "company": "", "status": "registered", "notes": "", "save": "Save",
                "csrf_token": token}  # fmt: skip
        duplicate = await client.post("/admin/webinar-registrant/create", data=form)
        elsewhere = await client.post(
            "/admin/webinar-registrant/create", data=form | {"webinar": str(other.pk)}
        )
    assert duplicate.status_code == 400
    assert "A webinar registrant with this webinar and email already exists." in duplicate.text
    assert elsewhere.status_code == 302  # the same email for another webinar is fine
    assert await fresh_count(WebinarRegistrant, email="ada@example.com") == 2
    assert errors_logged(caplog) == []


async def test_a_duplicate_that_wins_the_race_to_the_commit_is_a_form_error_too(
    settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row appears between the check and the commit: the IntegrityError is reported."""
    await Group.objects.create(name="Editors")
    real = unique.taken
    checks: list[int] = []

    async def too_early(model_admin: Any, request: Any) -> list[tuple[str, ...]]:
        checks.append(1)
        return [] if len(checks) == 1 else await real(model_admin, request)

    monkeypatch.setattr(unique, "taken", too_early)
    async with superuser_client(settings) as (client, token):
        form = {"name": "Editors", "save": "Save", "csrf_token": token}
        response = await client.post("/admin/group/create", data=form)
    assert len(checks) == 2  # the check, then the commit's IntegrityError read again
    assert response.status_code == 400
    assert "A group with this name already exists." in response.text
    assert "IntegrityError" not in response.text
    assert await fresh_count(Group, name="Editors") == 1
    assert errors_logged(caplog) == []


# -- 2: prepopulated fields and Django options we do not have ------------------------------


def test_slugify_is_djangos() -> None:
    assert slugify(" Héllo, World!  2025 ") == "hello-world-2025"
    assert slugify("__a--b__") == "a-b"
    assert slugify("Ça va?", allow_unicode=True) == "ça-va"


class PrepopulatedWebinarAdmin(ModelAdmin):
    list_display = ("id", "title", "host")
    prepopulated_fields = {"host": ("title", "duration_minutes")}


async def test_an_empty_prepopulated_field_is_made_from_its_sources(
    settings: Settings, install: Install
) -> None:
    install(Webinar, PrepopulatedWebinarAdmin)
    async with superuser_client(settings) as (client, token):
        form = {"title": "Héllo, World!", "description": "", "duration_minutes": "45",
                "starts_at": "2030-01-02 10:00:00", "csrf_token": token}  # fmt: skip
        form["save"] = "Save"
        made = await client.post("/admin/webinar/create", data=form | {"host": ""})
        kept = await client.post(
            "/admin/webinar/create", data=form | {"title": "Kept", "host": "Ada Lovelace"}
        )
    assert made.status_code == 302, made.text
    assert kept.status_code == 302, kept.text
    await Webinar.objects.session.commit()
    hosts = dict(await Webinar.objects.values_list("title", "host"))
    assert hosts == {"Héllo, World!": "hello-world-45", "Kept": "Ada Lovelace"}


@pytest.mark.parametrize(
    ("option", "value", "check_id"),
    [
        ("date_hierarchy", "starts_at", "admin.E127"),
        ("raw_id_fields", ("webinar",), "admin.E001"),
        ("inlines", (), "admin.E103"),
        ("fieldsets", ((None, {"fields": ("name",)}),), "admin.E007"),
        ("list_editable", ("status",), "admin.E120"),
        ("autocomplete_fields", ("webinar",), "admin.E036"),
        ("filter_horizontal", ("tags",), "admin.E018"),
        ("radio_fields", {"status": 1}, "admin.E021"),
        ("prepopulated_fields", {"status": ("name",)}, "admin.E027"),
        ("prepopulated_fields", {"company": ("nickname",)}, "admin.E030"),
        ("prepopulated_fields", {"company": "name"}, "admin.E029"),
        ("list_filter", ("notes_count",), "admin.E116"),
    ],
)
def test_options_we_do_not_support_are_refused_at_registration(
    install: Install, option: str, value: Any, check_id: str
) -> None:
    admin_class = type("RegistrantAdmin", (ModelAdmin,), {option: value})
    before = dict(registry)
    with pytest.raises(admin.ImproperlyConfigured) as error:
        install(WebinarRegistrant, admin_class)
    assert option in str(error.value)
    assert check_id in str(error.value)
    assert "webinar-registrant" not in registry
    registry.update(before)


# -- 1: list filters on foreign keys and dates ----------------------------------------------


class ConversationAdmin(ModelAdmin):
    """A foreign key column with no relationship, to a model named by its label (User)."""

    list_display = ("id", "title", "user_id")
    list_filter = ("user_id",)


class DatedWebinarAdmin(ModelAdmin):
    list_display = ("id", "title")
    list_filter = ("starts_at",)


class RegistrantByWebinarAdmin(ModelAdmin):
    list_display = ("id", "name", "email")
    list_filter = ("webinar",)  # the relation's name, as Django allows


async def test_a_foreign_key_filter_lists_the_rows_by_label_and_filters(
    settings: Settings, install: Install
) -> None:
    install(Conversation, ConversationAdmin)
    install(WebinarRegistrant, RegistrantByWebinarAdmin)
    ada = await make_user(email="ada@example.com")
    bob = await make_user(email="bob@example.com")
    await make_user(email="nobody@example.com")  # no conversation: not offered
    await Conversation.objects.create(user=ada, title="Ada's thread")
    await Conversation.objects.create(user=bob, title="Bob's thread")
    first, second = await make_webinar(title="First talk"), await make_webinar(title="Second")
    await make_registrant(first, name="Early Bird")
    await make_registrant(second, name="Late Comer")
    async with superuser_client(settings) as (client, _token):
        listing = await client.get("/admin/conversation/list")
        ada_only = await client.get(f"/admin/conversation/list?user_id={ada.pk}")
        by_webinar = await client.get(f"/admin/webinar-registrant/list?webinar_id={first.pk}")
        bad = [
            await client.get(f"/admin/conversation/list?user_id={value}")
            for value in ("abc", "99999999999999999999999", "1%00")
        ]
    assert listing.status_code == 200
    assert "ada@example.com" in listing.text
    assert "bob@example.com" in listing.text
    assert "nobody@example.com" not in listing.text
    assert "User" in listing.text  # the filter's title
    assert "Ada&#39;s thread" in ada_only.text
    assert "Bob&#39;s thread" not in ada_only.text
    assert "Early Bird" in by_webinar.text
    assert "Late Comer" not in by_webinar.text
    assert "First talk" in by_webinar.text  # the webinar menu, named by label
    assert [response.status_code for response in bad] == [400, 400, 400]


async def test_a_date_filter_offers_djangos_choices_and_filters(
    settings: Settings, install: Install
) -> None:
    install(Webinar, DatedWebinarAdmin)
    now = utcnow()
    day = now.date()
    when = {"Now talk": now, "Last week talk": now - timedelta(days=3),
            "Old talk": now - timedelta(days=400)}  # fmt: skip
    for title, starts_at in when.items():
        await make_webinar(title=title, starts_at=starts_at)
    async with superuser_client(settings) as (client, _token):
        listing = await client.get("/admin/webinar/list")
        pages = {
            value: await client.get(f"/admin/webinar/list?starts_at={value}")
            for value in ("today", "past_7_days", "this_month", "this_year", "__all")
        }
        bad = await client.get("/admin/webinar/list?starts_at=yesterday")
    if utcnow().date() != day:
        pytest.skip("the day changed during the test (midnight UTC)")
    for label in ("Any date", "Today", "Past 7 days", "This month", "This year"):
        assert label in listing.text
    filter_ = DateFilter(Column("starts_at", DateTime), "Starts at")
    for value, page in pages.items():
        assert page.status_code == 200
        if value == "__all":
            expected = set(when)
        else:
            start, end = filter_.bounds(value, day)
            expected = {title for title, moment in when.items() if start <= moment < end}
        shown = {title for title in when if title in page.text}
        assert shown == expected, value
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("today", "value", "start", "end"),
    [
        (date(2024, 3, 15), "today", date(2024, 3, 15), date(2024, 3, 16)),
        (date(2024, 3, 15), "past_7_days", date(2024, 3, 8), date(2024, 3, 16)),
        (date(2024, 12, 31), "this_month", date(2024, 12, 1), date(2025, 1, 1)),
        (date(2024, 12, 31), "this_year", date(2024, 1, 1), date(2025, 1, 1)),
    ],
)
def test_the_date_choices_are_utc_days(today: date, value: str, start: date, end: date) -> None:
    filter_ = DateFilter(Column("day", Date), "Day", is_date=True)
    assert filter_.bounds(value, today) == (start, end)


# -- 4: a foreign key by instance -----------------------------------------------------------


async def test_create_takes_a_related_row_for_a_relation_or_a_bare_key_column() -> None:
    user = await make_user()
    webinar = await make_webinar()
    conversation = await Conversation.objects.create(user=user, title="Hello")
    registrant = await WebinarRegistrant.objects.create(
        webinar=webinar, name="Ada", email="ada@example.com"
    )
    assert conversation.user_id == user.pk
    assert registrant.webinar_id == webinar.pk
    assert await fresh_count(Conversation, user_id=user.pk) == 1
    with pytest.raises(FieldError, match="users"):
        await Conversation.objects.create(user=webinar, title="Wrong")
    with pytest.raises(FieldError, match="Webinar"):
        await WebinarRegistrant.objects.create(webinar=user, name="Bo", email="bo@example.com")
    assert await fresh_count(Conversation) == 1
