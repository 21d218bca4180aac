"""The admin's pages for the accounts app: users, groups and the audit log.

Users and groups are for superusers only (editing either is a way to grant oneself
anything); the audit log is read-only for everyone.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from wtforms import Form, PasswordField, validators  # type: ignore[import-untyped]

from fastmango.accounts.account_service import AccountService, normalize_email, revoke_sessions
from fastmango.accounts.auth import hash_password_async
from fastmango.accounts.models import AuditLog, Group, User
from fastmango.admin import admin
from fastmango.admin.audit import actor


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    """Accounts, for superusers only. The password is write-only; the hash is never shown."""

    icon = "fa-solid fa-user"
    list_display = ("id", "email", "full_name", "is_active", "is_staff", "is_superuser")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "full_name")
    readonly_fields = ("last_login", "created_at", "updated_at")
    ordering = ("email",)
    superuser_only = True
    # Switching one of these off takes access away: the user's sessions and tokens go too.
    access_flags = ("is_active", "is_staff", "is_superuser")

    async def scaffold_form(self, rules: list[str] | None = None) -> type[Form]:
        form = await super().scaffold_form(rules)
        password = PasswordField(
            "Password",
            validators=[validators.Optional()],
            render_kw={"class": "form-control", "autocomplete": "new-password"},
            description="Required for a new user. Leave empty to keep the current password.",
        )
        password.creation_counter = form.email.creation_counter  # drawn right after email
        user_form: type[Form] = type("UserForm", (form,), {"password": password})
        return user_form

    async def clean(
        self, data: dict[str, Any], obj: Any, is_created: bool, request: Request
    ) -> None:
        password = data.pop("password", None) or ""
        email = normalize_email(str(data.get("email") or obj.email or ""))
        data["email"] = email  # a taken one is refused after clean (admin/unique.py)
        if password:
            min_length = request.app.state.settings.password_min_length
            AccountService(password_min_length=min_length).check_password(password, email)
            obj.hashed_password = await hash_password_async(password)
            request.state.admin_password_changed = True
        elif is_created:
            raise ValueError("Set a password for the new user.")
        # Read here, before sqladmin copies `data` onto the row.
        lost_access = any(
            getattr(obj, flag) and not data.get(flag, getattr(obj, flag))
            for flag in self.access_flags
        )
        request.state.admin_revoke_sessions = not is_created and (bool(password) or lost_access)

    async def after_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> Response | None:
        response = await super().after_model_change(data, model, is_created, request)
        # After the commit, so no request can read the old flags and get a new token
        # that outlives them (the flags are also checked on every request).
        if getattr(request.state, "admin_revoke_sessions", False):
            await revoke_sessions(model.id, request.app.state.redis)
        return response

    def extra_changes(self, request: Request) -> dict[str, Any]:
        # Which fields changed, never the values: the hash stays out of the log too.
        if getattr(request.state, "admin_password_changed", False):
            return {"password": ["(hidden)", "(changed)"]}
        return {}

    async def on_model_delete(self, model: Any, request: Request) -> None:
        user = actor(request)
        if user is not None and model.id == user.id:
            raise ValueError("You cannot delete your own account.")
        await super().on_model_delete(model, request)


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    """Groups and their permissions, for superusers only."""

    icon = "fa-solid fa-user-group"
    list_display = ("id", "name")
    search_fields = ("name",)
    exclude = ("users",)  # membership is edited on the user
    ordering = ("name",)
    superuser_only = True


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """The audit trail: read-only for everyone, superusers included."""

    icon = "fa-solid fa-clock-rotate-left"
    list_display = ("id", "at", "actor_email", "action", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("actor_email", "object_type", "object_id")
    ordering = ("-at",)
    list_per_page = 50
    can_create = False
    can_edit = False
    can_delete = False
