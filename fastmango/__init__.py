"""fastmango: Django's conventions on FastAPI and SQLModel.

    from fastmango import Model, Manager

    class Post(Model, table=True):
        id: int | None = Field(default=None, primary_key=True)
        title: str

    await Post.objects.filter(title__icontains="fast").order_by("-id")

The ORM loads on first use of these names, so `import fastmango.conf` (and
`manage.py --help`) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastmango.orm import Manager, Model, Q, QuerySet, atomic

__all__ = ["Manager", "Model", "Q", "QuerySet", "atomic"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from fastmango import orm

        return getattr(orm, name)
    raise AttributeError(f"module 'fastmango' has no attribute {name!r}")
