"""Who may do what in the admin: sqladmin's per-request authorization hook on our codenames.

sqladmin 0.32 asks an `AuthorizationBackend` about every action, per request, both
to draw the page (menus, buttons) and to guard each route (list, details, create,
edit, delete, export, custom actions: a refused one is a 403 before any work).
Our answer comes from the user's Django-style codenames `<model>.<action>`:

    list, details, export -> view (or change: as in Django, change implies view)
    create, import        -> add
    edit                  -> change
    delete                -> delete
    action:<slug>         -> every permission the @admin.action names

Superusers may do everything a view allows (its `can_*` flags still apply, so the
audit log stays read-only for everyone); a `superuser_only` view is closed to
everybody else, whatever their codenames (editing users or groups is a way to
grant yourself anything).
"""

from __future__ import annotations

from typing import Any

from sqladmin.authorization import Action, AuthorizationBackend
from starlette.requests import Request

from fastmango.accounts.auth import load_permissions, user_permissions
from fastmango.accounts.models import User
from fastmango.admin.options import registry
from fastmango.orm import current_session

PERMISSION_ACTIONS: dict[str, tuple[str, ...]] = {
    Action.LIST: ("view", "change"),
    Action.DETAILS: ("view", "change"),
    Action.EXPORT: ("view", "change"),
    Action.CREATE: ("add",),
    Action.IMPORT: ("add",),
    Action.EDIT: ("change",),
    Action.DELETE: ("delete",),
}
CUSTOM_PREFIX = "action:"


class SitePermissions(AuthorizationBackend):
    """Admin permissions from the signed-in user's groups and grants (see the module doc)."""

    async def load(self, request: Request) -> None:
        """Once per admin request, after authentication: read the user's codenames."""
        user: User = request.state.user
        await load_permissions(user)
        # sqladmin reads and writes through its own sessions: close this read
        # transaction now, so the request's connection goes back to the pool and a
        # later write in this scope (the audit row) starts from a fresh snapshot.
        await current_session().commit()

    def has_permission(
        self, request: Request, identity: str, action: str, obj: Any | None = None
    ) -> bool:
        user: User | None = getattr(request.state, "user", None)
        view = registry.get(identity)
        if user is None or view is None or not user.is_active:
            return False
        if view.superuser_only and not user.is_superuser:
            return False
        if user.is_superuser:
            return True
        if action.startswith(CUSTOM_PREFIX):
            needed = view.permissions_for(action.removeprefix(CUSTOM_PREFIX))
            granted = user_permissions(user)
            return all(f"{view.permission_name}.{name}" in granted for name in needed)
        alternatives = PERMISSION_ACTIONS.get(action, ())
        granted = user_permissions(user)
        return any(f"{view.permission_name}.{name}" in granted for name in alternatives)
