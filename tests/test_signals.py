"""Django-style signals: the dispatcher, the ORM's save/delete signals, sign-in and sign-out."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from fastmango.accounts.models import User
from fastmango.orm import atomic
from fastmango.signals import (
    Signal,
    post_delete,
    post_save,
    pre_delete,
    pre_save,
    receiver,
    user_logged_in,
    user_logged_out,
)
from models import Product, Webinar
from tests.utils import bearer, csrf_token, login, make_product, make_user, make_webinar

Event = tuple[str, Any, dict[str, Any]]


class Recorder:
    """Connects one recording receiver per signal; `disconnect()` undoes it."""

    def __init__(self, signals: dict[str, Signal], sender: object = None) -> None:
        self.events: list[Event] = []
        self.sender = sender
        self.receivers = {name: self._receiver(name) for name in signals}
        self.signals = signals
        for name, signal in signals.items():
            signal.connect(self.receivers[name], sender=sender)

    def _receiver(self, name: str) -> Any:
        def record(sender: Any, signal: Signal, **kwargs: Any) -> None:
            assert signal is self.signals[name]
            self.events.append((name, sender, kwargs))

        return record

    def names(self) -> list[str]:
        return [name for name, _sender, _kwargs in self.events]

    def disconnect(self) -> None:
        for name, signal in self.signals.items():
            assert signal.disconnect(self.receivers[name], sender=self.sender)


ORM_SIGNALS = {
    "pre_save": pre_save,
    "post_save": post_save,
    "pre_delete": pre_delete,
    "post_delete": post_delete,
}


@pytest.fixture
def orm_events() -> Iterator[Recorder]:
    recorder = Recorder(ORM_SIGNALS, sender=Product)
    yield recorder
    recorder.disconnect()


@pytest.fixture
def auth_events() -> Iterator[Recorder]:
    recorder = Recorder({"logged_in": user_logged_in, "logged_out": user_logged_out})
    yield recorder
    recorder.disconnect()


# -- the dispatcher ---------------------------------------------------------------------


async def test_sync_and_async_receivers_run_in_order_with_their_results() -> None:
    signal = Signal("test")
    calls: list[dict[str, Any]] = []

    def first(sender: Any, **kwargs: Any) -> str:
        calls.append({"sender": sender, **kwargs})
        return "sync"

    async def second(sender: Any, **kwargs: Any) -> str:
        return f"async {kwargs['value']}"

    signal.connect(first)
    signal.connect(second)
    assert await signal.send("me", value=1) == [(first, "sync"), (second, "async 1")]
    assert calls == [{"sender": "me", "signal": signal, "value": 1}]


async def test_a_receivers_error_propagates() -> None:
    signal = Signal()

    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    signal.connect(broken)
    with pytest.raises(RuntimeError, match="boom"):
        await signal.send(None)


async def test_sender_filtering() -> None:
    signal = Signal()
    seen: list[Any] = []

    def only_products(sender: Any, **kwargs: Any) -> None:
        seen.append(("products", sender))

    def anyone(sender: Any, **kwargs: Any) -> None:
        seen.append(("anyone", sender))

    signal.connect(only_products, sender=Product)
    signal.connect(anyone)
    await signal.send(Webinar)
    await signal.send(Product)
    assert seen == [("anyone", Webinar), ("products", Product), ("anyone", Product)]
    assert signal.has_listeners(Product)
    assert not signal.disconnect(only_products)  # connected for Product, not for any sender
    assert signal.disconnect(only_products, sender=Product)
    assert signal.receivers_for(Product) == [anyone]


async def test_weak_receivers_go_with_their_owner() -> None:
    signal = Signal()

    class Listener:
        def on_event(self, sender: Any, **kwargs: Any) -> str:
            return "method"

    def function(sender: Any, **kwargs: Any) -> str:
        return "function"

    listener = Listener()
    signal.connect(function)
    signal.connect(listener.on_event)  # a new bound method each access: held by WeakMethod
    assert [result for _r, result in await signal.send(None)] == ["function", "method"]
    del listener, function  # the last references: CPython frees them at once
    assert await signal.send(None) == []
    assert not signal.has_listeners()


async def test_strong_receivers_stay() -> None:
    signal = Signal()
    signal.connect(lambda sender, **kwargs: "kept", weak=False)
    assert [result for _r, result in await signal.send(None)] == ["kept"]


async def test_disconnect_and_duplicates() -> None:
    signal = Signal()

    def handler(sender: Any, **kwargs: Any) -> None:
        return None

    signal.connect(handler)
    signal.connect(handler)  # once only
    assert signal.receivers_for(None) == [handler]
    assert signal.disconnect(handler)
    assert not signal.disconnect(handler)
    assert await signal.send(None) == []
    with pytest.raises(TypeError):
        signal.disconnect()


async def test_dispatch_uid_identifies_a_connection() -> None:
    signal = Signal()

    def one(sender: Any, **kwargs: Any) -> int:
        return 1

    def two(sender: Any, **kwargs: Any) -> int:
        return 2

    signal.connect(one, dispatch_uid="the-one")
    signal.connect(two, dispatch_uid="the-one")  # the same uid: not connected again
    assert await signal.send(None) == [(one, 1)]
    assert not signal.disconnect(one)  # known by its uid, not by itself
    assert signal.disconnect(dispatch_uid="the-one")
    assert await signal.send(None) == []


async def test_receiver_decorator_connects_to_several_signals() -> None:
    first, second = Signal(), Signal()

    @receiver([first, second], sender=Product)
    async def handler(sender: Any, **kwargs: Any) -> str:
        return "handled"

    assert await first.send(Product) == [(handler, "handled")]
    assert await second.send(Product) == [(handler, "handled")]
    assert await first.send(Webinar) == []


# -- the ORM ------------------------------------------------------------------------------


@pytest.mark.usefixtures("session")
class TestOrmSignals:
    async def test_create_sends_pre_and_post_save(self, orm_events: Recorder) -> None:
        product = await make_product(name="Hammer")
        assert orm_events.names() == ["pre_save", "post_save"]
        for _name, sender, kwargs in orm_events.events:
            assert sender is Product
            assert kwargs["instance"] is product
            assert kwargs["created"] is True

    async def test_save_of_a_new_then_a_stored_row(self, orm_events: Recorder) -> None:
        product = Product(name="Saw", price=Decimal("20.00"), category="Tools")
        await product.save()
        product.name = "Big saw"
        await product.save()
        assert [(name, kw["created"]) for name, _s, kw in orm_events.events] == [
            ("pre_save", True),
            ("post_save", True),
            ("pre_save", False),
            ("post_save", False),
        ]

    async def test_pre_save_runs_before_the_write_post_save_after_it(self) -> None:
        seen: list[tuple[str, bool]] = []

        async def before(sender: Any, instance: Product, **kwargs: Any) -> None:
            seen.append(("pre", await Product.objects.filter(name=instance.name).exists()))

        async def after(sender: Any, instance: Product, **kwargs: Any) -> None:
            seen.append(("post", await Product.objects.filter(id=instance.id).exists()))

        pre_save.connect(before, sender=Product)
        post_save.connect(after, sender=Product)
        try:
            await make_product(name="Chisel")
            async with atomic():  # post_save inside atomic(): after the flush
                await make_product(name="File")
        finally:
            pre_save.disconnect(before, sender=Product)
            post_save.disconnect(after, sender=Product)
        assert seen == [("pre", False), ("post", True), ("pre", False), ("post", True)]

    async def test_get_or_create_and_update_or_create(self, orm_events: Recorder) -> None:
        defaults = {"price": Decimal("5.00"), "category": "Tools"}
        _product, created = await Product.objects.get_or_create(name="Nail", defaults=defaults)
        assert created
        await Product.objects.get_or_create(name="Nail", defaults=defaults)  # found: no save
        assert orm_events.names() == ["pre_save", "post_save"]
        orm_events.events.clear()
        await Product.objects.update_or_create(name="Nail", defaults={"price": Decimal("6.00")})
        await Product.objects.update_or_create(name="Screw", defaults=defaults)
        assert [(name, kw["created"]) for name, _s, kw in orm_events.events] == [
            ("pre_save", False),
            ("post_save", False),
            ("pre_save", True),
            ("post_save", True),
        ]

    async def test_delete_sends_pre_and_post_delete(self, orm_events: Recorder) -> None:
        product = await make_product()
        orm_events.events.clear()
        await product.delete()
        assert orm_events.names() == ["pre_delete", "post_delete"]
        assert all(kwargs == {"instance": product} for _n, _s, kwargs in orm_events.events)
        assert not await Product.objects.filter(id=product.id).exists()

    async def test_queryset_update_delete_and_bulk_create_send_nothing(
        self, orm_events: Recorder
    ) -> None:
        await Product.objects.bulk_create(
            [Product(name=f"Bulk {n}", price=Decimal(n), category="Tools") for n in range(3)]
        )
        assert await Product.objects.filter(name__startswith="Bulk").update(in_stock=False) == 3
        assert await Product.objects.filter(name__startswith="Bulk").delete() == 3
        assert orm_events.events == []

    async def test_the_sender_is_the_model(self, orm_events: Recorder) -> None:
        await make_webinar()  # the recorder listens to Product only
        assert orm_events.events == []


# -- signing in and out -------------------------------------------------------------------


@pytest.mark.usefixtures("session")
class TestAuthSignals:
    async def test_login_page_and_logout(
        self, client: httpx.AsyncClient, auth_events: Recorder
    ) -> None:
        await make_user(email="sig@example.com")
        assert (await login(client, "sig@example.com", "wrong-password")).status_code == 400
        assert auth_events.events == []
        assert (await login(client, "sig@example.com")).status_code == 303
        token = await csrf_token(client, "/account")
        assert (await client.post("/logout", data={"csrf_token": token})).status_code == 303
        assert auth_events.names() == ["logged_in", "logged_out"]
        for (_name, sender, kwargs), path in zip(
            auth_events.events, ["/login", "/logout"], strict=True
        ):
            assert sender is User
            assert kwargs["user"].email == "sig@example.com"
            assert kwargs["request"].url.path == path

    async def test_token_api(self, client: httpx.AsyncClient, auth_events: Recorder) -> None:
        await make_user(email="api@example.com")
        headers = await bearer(client, "api@example.com")
        assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
        assert auth_events.names() == ["logged_in", "logged_out"]
        paths = [kwargs["request"].url.path for _n, _s, kwargs in auth_events.events]
        assert paths == ["/api/v1/auth/token", "/api/v1/auth/logout"]
        assert all(kwargs["user"].email == "api@example.com" for *_, kwargs in auth_events.events)
