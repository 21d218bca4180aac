"""Django-style admin actions on sqladmin's @action routes.

An action is `async def f(modeladmin, request, queryset) -> message | None`, decorated
with `@admin.action(description=..., permissions=("change",))` and listed in a
ModelAdmin's `actions`. sqladmin serves actions as GET routes, which the CSRF
middleware lets through, so the runner checks the `X-CSRF-Token` header itself
(fastmango/admin/static/admin.js sends it; a cross-site link or image cannot).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, cast

from sqladmin import Flash
from sqladmin import action as sqladmin_action
from sqladmin.helpers import slugify_action_name
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from fastmango.accounts.audit_service import AuditService, diff, snapshot
from fastmango.accounts.models import AuditAction
from fastmango.admin.audit import actor
from fastmango.orm import QuerySet, atomic
from fastmango.orm.exceptions import FieldError
from fastmango.web.csrf import HEADER as CSRF_HEADER

ActionFunction = Callable[[Any, Request, QuerySet[Any]], Awaitable[str | None]]
PERMISSION_ACTIONS = frozenset({"view", "add", "change", "delete"})


class AdminAction(Protocol):
    """An action function with what `@admin.action` attached to it."""

    __name__: str
    short_description: str
    allowed_permissions: tuple[str, ...]
    confirmation: str | None

    def __call__(
        self, modeladmin: Any, request: Request, queryset: QuerySet[Any]
    ) -> Awaitable[str | None]: ...


def action(
    *, description: str, permissions: Sequence[str] = ("change",), confirmation: str | None = None
) -> Callable[[ActionFunction], AdminAction]:
    """Django's `@admin.action`: the label, the permissions it needs (all of them), a prompt."""
    unknown = set(permissions) - PERMISSION_ACTIONS
    if unknown:
        raise ValueError(f"unknown permission action(s): {', '.join(sorted(unknown))}")

    def decorator(function: ActionFunction) -> AdminAction:
        decorated = cast(AdminAction, function)
        decorated.short_description = description
        decorated.allowed_permissions = tuple(permissions)
        decorated.confirmation = confirmation
        return decorated

    return decorator


def slug_for(function: AdminAction) -> str:
    return slugify_action_name(function.__name__.replace("_", "-"))


def action_methods(
    actions: Sequence[AdminAction],
) -> tuple[dict[str, Any], dict[str, tuple[str, ...]]]:
    """The sqladmin @action methods for a view's actions, and the permissions of each slug."""
    methods: dict[str, Any] = {}
    permissions: dict[str, tuple[str, ...]] = {}
    for function in actions:
        slug = slug_for(function)

        async def run(view: Any, request: Request, _function: AdminAction = function) -> Response:
            return await run_action(view, request, _function)

        run.__name__ = f"action_{function.__name__}"
        methods[run.__name__] = sqladmin_action(
            name=slug,
            label=function.short_description,
            confirmation_message=function.confirmation,
        )(run)
        permissions[slug] = function.allowed_permissions
    return methods, permissions


async def run_action(view: Any, request: Request, function: AdminAction) -> Response:
    """Check the token, run the action on the selected rows; answers the URL to go to."""
    expected: str = getattr(request.state, "csrf_token", "")
    sent = request.headers.get(CSRF_HEADER, "")
    # Bytes: compare_digest refuses str with non-ASCII characters (a header may carry them).
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, "CSRF check failed: reload the page and retry.")
    pks = [pk for pk in request.query_params.get("pks", "").split(",") if pk]
    if pks:
        pk_name = view.pk_columns[0].key
        try:
            # The ORM coerces each id to the key column's type and range: a value no row
            # can have (not a number, too large for the column, a NUL) is refused here.
            selected = view.model.objects.filter(**{f"{pk_name}__in": pks})
        except FieldError:
            raise HTTPException(400, "Invalid selection.") from None
        message = await function(view, request, selected)
        if message:
            Flash.success(request, message)
        await view.drop_cached(request)
    else:
        Flash.warning(request, "Select at least one row first.")
    # As sqladmin's delete: the script navigates to the URL in the body.
    return PlainTextResponse(str(request.url_for("admin:list", identity=view.identity)))


async def update_rows(request: Request, queryset: QuerySet[Any], **values: Any) -> int:
    """Set `values` on every row in one transaction, with an audit row per row changed."""
    changed = 0
    async with atomic():
        for row in await queryset:
            before = snapshot(row)
            for name, value in values.items():
                setattr(row, name, value)
            changes = diff(before, snapshot(row))
            if not changes:
                continue
            await row.save()  # also bumps updated_at
            await AuditService().record(actor(request), AuditAction.UPDATE, row, changes)
            changed += 1
    return changed
