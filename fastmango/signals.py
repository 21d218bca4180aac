"""Signals, Django's way: a sender announces an event, connected receivers run.

Connect receivers in an app's `AppConfig.ready()` (see fastmango.apps), so they are
connected once, after every model is imported:

    # blog/signals.py
    from fastmango.signals import post_save, receiver
    from blog.models import Post

    @receiver(post_save, sender=Post)
    async def index_post(sender: type[Post], instance: Post, created: bool, **kwargs: Any) -> None:
        ...

    # blog/apps.py
    class BlogConfig(AppConfig):
        name = "blog"

        def ready(self) -> None:
            from blog import signals  # noqa: F401 (connects the receivers)

A receiver is a sync or async callable taking `sender` and keyword arguments (always
add `**kwargs`: signals may grow new ones). `send()` calls them in the order they were
connected, awaits the async ones, and lets their exceptions propagate. Receivers are
held by weak reference unless `weak=False`, so one defined in a function goes away
with it; a module-level function lives as long as its module.

The ORM sends `pre_save`/`post_save` (instance, created) from `Model.save()`,
`objects.create()`, `get_or_create()` and `update_or_create()`, and
`pre_delete`/`post_delete` (instance) from `Model.delete()`; the sender is the model
class. As in Django, `QuerySet.update()`, `QuerySet.delete()` and `bulk_create()` send
nothing, nor do rows the database deletes by cascade. `post_save` runs once the write
is committed, or flushed inside `atomic()`. `pre_save` gets `created` too (in place of
Django's `instance._state.adding`). The accounts app sends `user_logged_in` and
`user_logged_out` (user, request) with the user's class as the sender.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

Receiver = Callable[..., Any]
F = TypeVar("F", bound=Receiver)


@dataclass(frozen=True, slots=True)
class _Connection:
    key: tuple[object, int]  # (dispatch_uid or the receiver's id, id(sender))
    sender: object
    # A weak reference (called to get the receiver, None once it is collected) or,
    # with weak=False, a function returning the receiver.
    resolve: Callable[[], Receiver | None]


def _receiver_id(receiver: Receiver) -> object:
    # A bound method is a new object on every attribute access: identify its parts.
    if inspect.ismethod(receiver):
        return (id(receiver.__self__), id(receiver.__func__))
    return id(receiver)


class Signal:
    """A point receivers connect to; `await signal.send(sender, **kwargs)` calls them."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._connections: list[_Connection] = []

    def __repr__(self) -> str:
        return f"<Signal {self.name or hex(id(self))}>"

    def connect(
        self,
        receiver: Receiver,
        sender: object = None,
        weak: bool = True,
        dispatch_uid: object = None,
    ) -> None:
        """Call `receiver` on every send from `sender` (from any sender when None).

        Connecting the same receiver (or `dispatch_uid`) for the same sender twice
        keeps one connection.
        """
        if not callable(receiver):
            raise TypeError(f"Signal receivers must be callable, not {receiver!r}")
        self._drop_dead()
        uid = dispatch_uid if dispatch_uid is not None else _receiver_id(receiver)
        key = (uid, id(sender))
        if any(connection.key == key for connection in self._connections):
            return
        resolve: Callable[[], Receiver | None]
        if not weak:
            resolve = lambda: receiver  # noqa: E731
        elif inspect.ismethod(receiver):
            resolve = weakref.WeakMethod(receiver)
        else:
            resolve = weakref.ref(receiver)
        self._connections.append(_Connection(key, sender, resolve))

    def disconnect(
        self, receiver: Receiver | None = None, sender: object = None, dispatch_uid: object = None
    ) -> bool:
        """Undo `connect()` (pass the same sender, or the dispatch_uid); True if it was on."""
        if dispatch_uid is not None:
            uid = dispatch_uid
        elif receiver is not None:
            uid = _receiver_id(receiver)
        else:
            raise TypeError("disconnect() needs the receiver or its dispatch_uid")
        self._drop_dead()
        key = (uid, id(sender))
        before = len(self._connections)
        self._connections = [c for c in self._connections if c.key != key]
        return len(self._connections) < before

    def receivers_for(self, sender: object) -> list[Receiver]:
        """The live receivers a send from `sender` would call, in order."""
        self._drop_dead()
        found = []
        for connection in self._connections:
            if connection.sender is None or connection.sender is sender:
                receiver = connection.resolve()
                if receiver is not None:
                    found.append(receiver)
        return found

    def has_listeners(self, sender: object = None) -> bool:
        return bool(self.receivers_for(sender))

    async def send(self, sender: object, **kwargs: Any) -> list[tuple[Receiver, Any]]:
        """Call each receiver with `signal`, `sender` and `kwargs`; their results, in order."""
        responses: list[tuple[Receiver, Any]] = []
        for receiver in self.receivers_for(sender):
            result = receiver(signal=self, sender=sender, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            responses.append((receiver, result))
        return responses

    def _drop_dead(self) -> None:
        # Before ids are compared: a collected receiver's id may be reused by a new one.
        if any(connection.resolve() is None for connection in self._connections):
            self._connections = [c for c in self._connections if c.resolve() is not None]


def receiver(
    signal: Signal | list[Signal] | tuple[Signal, ...],
    *,
    sender: object = None,
    weak: bool = True,
    dispatch_uid: object = None,
) -> Callable[[F], F]:
    """Connect the decorated function: `@receiver(post_save, sender=Product)`."""
    signals = [signal] if isinstance(signal, Signal) else list(signal)

    def decorate(func: F) -> F:
        for one in signals:
            one.connect(func, sender=sender, weak=weak, dispatch_uid=dispatch_uid)
        return func

    return decorate


# Sent by the ORM (sender: the model class). kwargs: instance, created.
pre_save = Signal("pre_save")
post_save = Signal("post_save")
# kwargs: instance.
pre_delete = Signal("pre_delete")
post_delete = Signal("post_delete")
# Sent by the accounts app (sender: the user's class). kwargs: user, request.
user_logged_in = Signal("user_logged_in")
user_logged_out = Signal("user_logged_out")

__all__ = [
    "Signal",
    "post_delete",
    "post_save",
    "pre_delete",
    "pre_save",
    "receiver",
    "user_logged_in",
    "user_logged_out",
]
