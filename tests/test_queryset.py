"""The Django-style manager and QuerySet, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pydantic
import pytest
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession

from fastmango.db import Database
from fastmango.errors import NotFound
from fastmango.orm import Avg, Count, FieldError, Max, Min, NoSessionError, Q, Sum, atomic
from fastmango.orm.exceptions import MultipleObjectsReturned, ObjectDoesNotExist
from models import Product, RegistrantStatus, Webinar, WebinarRegistrant
from tests.utils import make_product, make_registrant, make_webinar

pytestmark = pytest.mark.usefixtures("session")


async def names(qs: Any) -> list[str]:
    return [p.name for p in await qs]


@pytest.fixture
async def catalogue() -> list[Product]:
    rows = [
        ("Hammer", "12.50", "Tools", True, "A steel hammer"),
        ("hammer drill", "89.99", "Tools", False, "Drills and hammers"),
        ("Saw", "20.00", "Tools", True, ""),
        ("Apple", "0.99", "Food", True, "Crunchy"),
        ("Banana", "1.25", "Food", False, "50% off"),
        ("Chair", "45.00", "Furniture", True, "Oak_wood chair"),
    ]
    return [
        await make_product(name=n, price=Decimal(p), category=c, in_stock=s, description=d)
        for n, p, c, s, d in rows
    ]


class TestLookups:
    async def test_exact_and_iexact(self, catalogue: list[Product]) -> None:
        assert await names(Product.objects.filter(name="Hammer")) == ["Hammer"]
        assert await names(Product.objects.filter(name__exact="hammer")) == []
        iexact = Product.objects.filter(name__iexact="HAMMER")
        assert await names(iexact) == ["Hammer"]

    async def test_contains_is_case_sensitive_and_icontains_is_not(
        self, catalogue: list[Product]
    ) -> None:
        assert await names(Product.objects.filter(name__contains="ammer").order_by("name")) == [
            "Hammer",
            "hammer drill",
        ]
        assert await names(Product.objects.filter(name__contains="Hamm")) == ["Hammer"]
        found = Product.objects.filter(name__icontains="HAMM").order_by("id")
        assert await names(found) == ["Hammer", "hammer drill"]

    async def test_like_wildcards_are_escaped(self, catalogue: list[Product]) -> None:
        assert await names(Product.objects.filter(description__contains="50%")) == ["Banana"]
        assert await names(Product.objects.filter(description__contains="_wood")) == ["Chair"]
        assert await Product.objects.filter(description__contains="%").count() == 1

    async def test_starts_and_ends(self, catalogue: list[Product]) -> None:
        assert await names(Product.objects.filter(name__startswith="Ha")) == ["Hammer"]
        assert await names(Product.objects.filter(name__istartswith="ha").order_by("id")) == [
            "Hammer",
            "hammer drill",
        ]
        assert await names(Product.objects.filter(name__endswith="ana")) == ["Banana"]
        assert await names(Product.objects.filter(name__iendswith="DRILL")) == ["hammer drill"]

    async def test_comparisons(self, catalogue: list[Product]) -> None:
        assert await Product.objects.filter(price__gt=Decimal("20")).count() == 2
        assert await Product.objects.filter(price__gte=Decimal("20")).count() == 3
        assert await Product.objects.filter(price__lt=1).count() == 1
        assert await Product.objects.filter(price__lte="1.25").count() == 2

    async def test_in_isnull_and_range(self, catalogue: list[Product]) -> None:
        in_ = Product.objects.filter(category__in=["Food", "Furniture"]).order_by("name")
        assert await names(in_) == ["Apple", "Banana", "Chair"]
        assert await Product.objects.filter(category__in=[]).count() == 0
        assert await Product.objects.filter(name__isnull=False).count() == 6
        assert await Product.objects.filter(name__isnull=True).count() == 0
        ranged = Product.objects.filter(price__range=(Decimal("1"), Decimal("20"))).order_by(
            "price"
        )
        assert await names(ranged) == ["Banana", "Hammer", "Saw"]

    async def test_strings_from_query_strings_are_coerced(self, catalogue: list[Product]) -> None:
        assert await Product.objects.filter(in_stock="false").count() == 2
        assert await Product.objects.filter(price__gte="45", id__gt="0").count() == 2
        assert await Product.objects.filter(category__in="Food,Tools").count() == 5

    async def test_bad_values_name_the_field(self, catalogue: list[Product]) -> None:
        with pytest.raises(FieldError, match="price__gte"):
            Product.objects.filter(price__gte="cheap")
        with pytest.raises(FieldError, match="in_stock"):
            Product.objects.filter(in_stock="maybe")
        with pytest.raises(FieldError, match="two values"):
            Product.objects.filter(price__range=[1])
        # Values no row can hold never reach the database (PostgreSQL would fail on them).
        with pytest.raises(FieldError, match="out of range"):
            Product.objects.filter(id=2**40)
        with pytest.raises(FieldError, match="out of range"):
            Product.objects.filter(id__in=["1", str(2**31)])
        with pytest.raises(FieldError, match="NUL"):
            Product.objects.filter(name__icontains="a\x00b")

    async def test_unknown_field_and_lookup_are_named(self) -> None:
        with pytest.raises(FieldError, match=r"'colour'.*Choices are: .*category"):
            Product.objects.filter(colour="red")
        with pytest.raises(FieldError, match="'near'"):
            Product.objects.filter(price__near=3)
        with pytest.raises(FieldError, match="'nope'"):
            Product.objects.order_by("-nope")
        with pytest.raises(FieldError, match="'nope'"):
            Product.objects.values("nope")

    async def test_exclude_keeps_null_rows(self) -> None:
        webinar = await make_webinar()
        await make_registrant(webinar, name="With photo", photo="a.jpg")
        await make_registrant(webinar, name="No photo", photo=None)
        qs = WebinarRegistrant.objects.exclude(photo="a.jpg")
        assert [r.name for r in await qs] == ["No photo"]
        assert await WebinarRegistrant.objects.filter(~Q(photo="a.jpg")).count() == 1


class TestQ:
    async def test_or_and_not(self, catalogue: list[Product]) -> None:
        either = Product.objects.filter(Q(name="Apple") | Q(price__gt=50)).order_by("name")
        assert await names(either) == ["Apple", "hammer drill"]
        both = Product.objects.filter(Q(category="Tools") & ~Q(in_stock=False)).order_by("name")
        assert await names(both) == ["Hammer", "Saw"]
        mixed = Product.objects.filter(Q(category="Food") | Q(category="Furniture"), in_stock=True)
        assert await names(mixed.order_by("name")) == ["Apple", "Chair"]

    async def test_exclude_with_q(self, catalogue: list[Product]) -> None:
        qs = Product.objects.exclude(Q(category="Tools") | Q(category="Food"))
        assert await names(qs) == ["Chair"]

    def test_combining_with_non_q_is_a_type_error(self) -> None:
        with pytest.raises(TypeError):
            Q(a=1) | {"b": 2}


class TestRelations:
    async def test_filter_across_foreign_keys(self) -> None:
        intro = await make_webinar(title="Intro to SQL")
        advanced = await make_webinar(title="Advanced Python")
        await make_registrant(intro, name="Ann")
        await make_registrant(advanced, name="Bob")
        qs = WebinarRegistrant.objects.filter(webinar__title__icontains="intro")
        assert [r.name for r in await qs] == ["Ann"]
        assert await WebinarRegistrant.objects.filter(webinar=advanced).count() == 1
        assert await WebinarRegistrant.objects.filter(webinar__in=[intro, advanced]).count() == 2
        assert await WebinarRegistrant.objects.exclude(webinar__title="Intro to SQL").count() == 1

    async def test_reverse_relation_does_not_duplicate(self) -> None:
        busy = await make_webinar(title="Busy")
        await make_webinar(title="Empty")
        for _ in range(3):
            await make_registrant(busy, company="Acme")
        qs = Webinar.objects.filter(registrants__company="Acme")
        assert [w.title for w in await qs] == ["Busy"]
        assert [w.title for w in await Webinar.objects.filter(registrants__isnull=True)] == [
            "Empty"
        ]

    async def test_order_and_values_across_a_foreign_key(self) -> None:
        late = await make_webinar(title="Zeta")
        early = await make_webinar(title="Alpha")
        await make_registrant(late, name="Zed")
        await make_registrant(early, name="Al")
        ordered = WebinarRegistrant.objects.order_by("webinar__title")
        assert [r.name for r in await ordered] == ["Al", "Zed"]
        rows = await WebinarRegistrant.objects.order_by("-name").values("name", "webinar__title")
        assert rows == [
            {"name": "Zed", "webinar__title": "Zeta"},
            {"name": "Al", "webinar__title": "Alpha"},
        ]

    async def test_lazy_loading_is_refused_and_eager_loading_works(
        self, session: AsyncSession
    ) -> None:
        webinar = await make_webinar(title="Eager")
        await make_registrant(webinar, name="Ann")
        await make_registrant(webinar, name="Bob")
        session.expunge_all()  # nothing cached: an access would need SQL
        plain = await WebinarRegistrant.objects.filter(name="Ann").first()
        assert plain is not None
        with pytest.raises(InvalidRequestError):
            _ = plain.webinar  # relationships never load implicitly (lazy="raise_on_sql")
        joined = await WebinarRegistrant.objects.select_related("webinar").get(name="Bob")
        assert joined.webinar.title == "Eager"
        fetched = await Webinar.objects.prefetch_related("registrants").get(id=webinar.id)
        assert sorted(r.name for r in fetched.registrants) == ["Ann", "Bob"]

    async def test_unknown_relation_is_named(self) -> None:
        with pytest.raises(FieldError, match="'speaker'"):
            WebinarRegistrant.objects.select_related("speaker")


class TestRetrieval:
    async def test_ordering_slicing_first_last(self, catalogue: list[Product]) -> None:
        by_price = Product.objects.order_by("-price", "name")
        assert await names(by_price[:2]) == ["hammer drill", "Chair"]
        assert await names(by_price[1:3]) == ["Chair", "Saw"]
        assert await names(by_price[2:][:1]) == ["Saw"]
        assert (await by_price[0]).name == "hammer drill"
        assert (await by_price.first()) is not None
        last = await by_price.last()
        assert last is not None
        assert last.name == "Apple"
        first_by_pk = await Product.objects.first()
        assert first_by_pk is not None
        assert first_by_pk.name == "Hammer"
        assert await Product.objects.filter(name="none").first() is None
        with pytest.raises(IndexError):
            await Product.objects.filter(name="none")[0]
        with pytest.raises(ValueError, match="Negative"):
            Product.objects.all()[-1:]

    async def test_get_and_its_errors(self, catalogue: list[Product]) -> None:
        assert (await Product.objects.get(name="Saw")).category == "Tools"
        with pytest.raises(Product.DoesNotExist):
            await Product.objects.get(name="Nothing")
        with pytest.raises(Product.MultipleObjectsReturned, match="it returned 3"):
            await Product.objects.get(category="Tools")
        # Per-model classes, as in Django, that share the base classes.
        assert issubclass(Product.DoesNotExist, ObjectDoesNotExist)
        assert issubclass(Product.MultipleObjectsReturned, MultipleObjectsReturned)
        assert not issubclass(Product.DoesNotExist, Webinar.DoesNotExist)
        assert await Product.objects.get_or_none(name="Nothing") is None
        with pytest.raises(NotFound):
            await Product.objects.get_or_404(pk=10_000)

    async def test_count_exists_and_aggregate(self, catalogue: list[Product]) -> None:
        assert await Product.objects.count() == 6
        assert await Product.objects.filter(category="Food").exists()
        assert not await Product.objects.filter(category="Toys").exists()
        assert await Product.objects.order_by("name")[1:4].count() == 3
        totals = await Product.objects.filter(category="Food").aggregate(
            n=Count("id"), low=Min("price"), high=Max("price"), total=Sum("price"), avg=Avg("price")
        )
        assert totals["n"] == 2
        assert Decimal(str(totals["low"])) == Decimal("0.99")
        assert Decimal(str(totals["high"])) == Decimal("1.25")
        assert Decimal(str(totals["total"])).quantize(Decimal("0.01")) == Decimal("2.24")

    async def test_values_and_values_list(self, catalogue: list[Product]) -> None:
        food = Product.objects.filter(category="Food").order_by("name")
        assert await food.values("name", "price") == [
            {"name": "Apple", "price": Decimal("0.99")},
            {"name": "Banana", "price": Decimal("1.25")},
        ]
        assert await food.values_list("name", "in_stock") == [("Apple", True), ("Banana", False)]
        assert await food.values_list("name", flat=True) == ["Apple", "Banana"]
        full = await food.values()
        assert set(full[0]) >= {"id", "name", "price", "category", "created_at"}
        with pytest.raises(TypeError):
            food.values_list("name", "price", flat=True)

    async def test_async_iteration_and_distinct(self, catalogue: list[Product]) -> None:
        seen = [p.name async for p in Product.objects.filter(category="Food").order_by("name")]
        assert seen == ["Apple", "Banana"]
        categories = Product.objects.order_by("category").distinct()
        assert await categories.values_list("category", flat=True) == ["Food", "Furniture", "Tools"]

    async def test_querysets_are_lazy_and_reusable(self, catalogue: list[Product]) -> None:
        base = Product.objects.filter(category="Tools")
        cheap = base.filter(price__lt=50)
        assert await base.count() == 3
        assert await cheap.count() == 2
        await make_product(name="Nail", price=Decimal("0.10"), category="Tools")
        assert await cheap.count() == 3  # evaluated again, not cached

    async def test_paginate(self, catalogue: list[Product]) -> None:
        page = await Product.objects.order_by("price").paginate(page=2, per_page=4)
        assert [p.name for p in page.items] == ["Chair", "hammer drill"]
        assert (page.total, page.pages, page.has_next, page.has_previous) == (6, 2, False, True)
        beyond = await Product.objects.paginate(page=9, per_page=4)
        assert beyond.items == []
        assert beyond.total == 6
        empty = await Product.objects.filter(category="Toys").paginate()
        assert (empty.items, empty.total, empty.pages) == ([], 0, 1)
        with pytest.raises(FieldError):
            await Product.objects.paginate(page=0)


class TestWrites:
    async def test_create_validates_and_types(self) -> None:
        product = await Product.objects.create(name="Lamp", price="19.9", category="Home")
        assert product.id is not None
        assert product.price == Decimal("19.90")
        with pytest.raises(pydantic.ValidationError, match="decimal places"):
            await Product.objects.create(name="Lamp", price="19.999", category="Home")
        with pytest.raises(pydantic.ValidationError, match="greater than or equal"):
            await Product.objects.create(name="Lamp", price="-1", category="Home")
        assert product.created_at.tzinfo is not None
        with pytest.raises(pydantic.ValidationError):
            await Product.objects.create(name="Bad", price="free", category="Home")
        with pytest.raises(FieldError, match="'colour'"):
            await Product.objects.create(name="Bad", price=1, category="Home", colour="red")

    async def test_decimal_and_datetime_round_trip(self, session: AsyncSession) -> None:
        starts = datetime(2030, 5, 17, 14, 30, tzinfo=UTC)
        webinar = await make_webinar(starts_at=starts)
        product = await make_product(price=Decimal("1234567.89"))
        session.expunge_all()
        again = await Webinar.objects.get(id=webinar.id)
        assert again.starts_at == starts
        assert again.starts_at.tzinfo is not None
        assert (await Product.objects.get(id=product.id)).price == Decimal("1234567.89")
        later = await Webinar.objects.filter(starts_at__gt="2030-05-17T14:00:00+00:00").count()
        assert later == 1

    async def test_save_refresh_delete(self) -> None:
        product = await make_product(name="Old")
        before = product.updated_at
        product.name = "New"
        await product.save()
        assert (await Product.objects.get(id=product.id)).name == "New"
        assert product.updated_at >= before
        await Product.objects.filter(id=product.id).update(name="Newer")
        await product.refresh()
        assert product.name == "Newer"
        await product.delete()
        assert not await Product.objects.filter(id=product.id).exists()

    async def test_get_or_create_and_update_or_create(self) -> None:
        first, created = await Product.objects.get_or_create(
            name="Desk", defaults={"price": Decimal("99"), "category": "Furniture"}
        )
        again, created_again = await Product.objects.get_or_create(
            name="Desk", defaults={"price": Decimal("1"), "category": "Other"}
        )
        assert (created, created_again) == (True, False)
        assert again.id == first.id
        assert again.price == Decimal("99.00")
        updated, created = await Product.objects.update_or_create(
            name="Desk", defaults={"price": "120"}
        )
        assert created is False
        assert (await Product.objects.get(id=updated.id)).price == Decimal("120.00")
        made, created = await Product.objects.update_or_create(
            name="Shelf", defaults={"price": "30", "category": "Furniture"}
        )
        assert created is True
        assert made.id is not None

    async def test_get_or_create_after_a_lost_race_returns_the_winner(
        self, database: Database
    ) -> None:
        webinar = await make_webinar()
        assert webinar.id is not None
        # Another session inserts the row between our lookup and our insert.
        async with database.session_factory() as other:
            other.add(WebinarRegistrant(webinar_id=webinar.id, name="Racer", email="r@x.io"))
            await other.commit()
        registrant, created = await WebinarRegistrant.objects.get_or_create(
            webinar_id=webinar.id, email="r@x.io", defaults={"name": "Me"}
        )
        assert created is False
        assert registrant.name == "Racer"

    async def test_bulk_create_update_delete(self) -> None:
        made = await Product.objects.bulk_create(
            [Product(name=f"Bulk {i}", price=Decimal(i), category="Bulk") for i in range(250)],
            batch_size=100,
        )
        assert all(p.id is not None for p in made)
        assert await Product.objects.filter(category="Bulk").count() == 250
        # Keys match their rows, and the objects are persistent: save() updates.
        assert (await Product.objects.get(id=made[137].id)).name == "Bulk 137"
        made[0].name = "Bulk 0 renamed"
        await made[0].save()
        assert await Product.objects.filter(category="Bulk").count() == 250
        assert (await Product.objects.get(id=made[0].id)).name == "Bulk 0 renamed"
        changed = await Product.objects.filter(category="Bulk", price__lt=10).update(in_stock=False)
        assert changed == 10
        assert await Product.objects.filter(in_stock=False).count() == 10
        deleted = await Product.objects.filter(name__startswith="Bulk 1").delete()
        assert deleted == 111  # "Bulk 1", "Bulk 10".."Bulk 19", "Bulk 100".."Bulk 199"
        with pytest.raises(TypeError, match="slice"):
            await Product.objects.all()[:5].delete()
        with pytest.raises(FieldError, match="'colour'"):
            await Product.objects.update(colour="red")

    async def test_database_constraints_hold(self) -> None:
        with pytest.raises(IntegrityError):
            await Product.objects.bulk_create(
                [Product(name="Negative", price=Decimal("-1"), category="X")]
            )
        webinar = await make_webinar()
        await make_registrant(webinar, email="same@example.com")
        with pytest.raises(IntegrityError):
            await make_registrant(webinar, email="same@example.com")
        with pytest.raises(IntegrityError):
            await WebinarRegistrant.objects.create(webinar_id=999_999, name="Ghost", email="g@x.io")

    async def test_deleting_a_webinar_cascades_in_the_database(self) -> None:
        webinar = await make_webinar()
        await make_registrant(webinar)
        await make_registrant(webinar, status=RegistrantStatus.ATTENDED)
        await webinar.delete()
        assert await WebinarRegistrant.objects.count() == 0


class TestSessionsAndTransactions:
    async def test_atomic_rolls_back_everything(self) -> None:
        with pytest.raises(RuntimeError):
            async with atomic():
                await make_product(name="Kept?")
                raise RuntimeError("boom")
        assert await Product.objects.count() == 0

    async def test_atomic_commits_once_and_nested_blocks_are_savepoints(self) -> None:
        webinar = await make_webinar()
        await make_registrant(webinar, email="taken@example.com")
        async with atomic():
            await make_product(name="Outer")
            with pytest.raises(IntegrityError):
                async with atomic():
                    await make_product(name="Inner, rolled back")
                    await make_registrant(webinar, email="taken@example.com")
            await make_product(name="Also outer")
        assert sorted(await Product.objects.values_list("name", flat=True)) == [
            "Also outer",
            "Outer",
        ]

    async def test_using_an_explicit_session(self, database: Database) -> None:
        await make_product(name="Shared")
        async with database.session_factory() as other:
            assert await Product.objects.using(other).filter(name="Shared").count() == 1

    async def test_no_session_in_scope_is_a_clear_error(self, database: Database) -> None:
        import asyncio

        async def outside_any_scope() -> int:
            return await Product.objects.count()

        # A new context with no scope: what a script without `db.session()` sees.
        from contextvars import Context

        task = asyncio.get_running_loop().create_task(outside_any_scope(), context=Context())
        with pytest.raises(NoSessionError, match=r"db\.session"):
            await task

    async def test_webinar_service_page_counts_in_constant_queries(
        self, database: Database
    ) -> None:
        from services import WebinarService
        from tests.utils import count_queries

        service = WebinarService()
        for i in range(6):
            webinar = await make_webinar(starts_at=datetime.now(UTC) + timedelta(days=i + 1))
            for _ in range(i):
                await make_registrant(webinar)
        with count_queries(database.engine) as small:
            page = await service.upcoming(per_page=2)
        with count_queries(database.engine) as large:
            page_large = await service.upcoming(per_page=6)
        assert [w.registrant_count for w in page_large.items] == [0, 1, 2, 3, 4, 5]
        assert len(page.items) == 2
        assert small.count == large.count <= 3
