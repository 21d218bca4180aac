"""The reference app's models in the admin, one `ModelAdmin` each, Django-style.

Who sees and does what is decided per request from permission codenames (see
fastmango/admin/permissions.py): Marketing edits products, Sales edits registrants, Support
reads. Users, groups and the audit log are the accounts app's (fastmango/accounts/admin.py).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fastmango.admin import admin
from fastmango.orm import QuerySet
from models import Product, RegistrantStatus, Webinar, WebinarRegistrant
from services.product_service import CACHE_KEYS

# -- actions ------------------------------------------------------------------------------


@admin.action(description="Mark as in stock", permissions=("change",))
async def mark_in_stock(modeladmin: Any, request: Request, queryset: QuerySet[Any]) -> str:
    changed = await admin.update_rows(request, queryset, in_stock=True)
    return f"{changed} product(s) marked as in stock."


@admin.action(description="Mark as out of stock", permissions=("change",))
async def mark_out_of_stock(modeladmin: Any, request: Request, queryset: QuerySet[Any]) -> str:
    changed = await admin.update_rows(request, queryset, in_stock=False)
    return f"{changed} product(s) marked as out of stock."


@admin.action(description="Mark as attended", permissions=("change",))
async def mark_attended(modeladmin: Any, request: Request, queryset: QuerySet[Any]) -> str:
    changed = await admin.update_rows(request, queryset, status=RegistrantStatus.ATTENDED)
    return f"{changed} registrant(s) marked as attended."


# -- catalogue and webinars -----------------------------------------------------------------


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    """Products: Marketing adds and edits them; Support reads."""

    icon = "fa-solid fa-box"
    list_display = ("id", "name", "category", "price", "in_stock", "updated_at")
    list_filter = ("in_stock", "category")
    # Both have an index, but sqladmin searches with ILIKE '%term%', which no b-tree
    # index can serve: a search scans the table (measured in tests/test_admin.py).
    search_fields = ("name", "category")
    readonly_fields = ("created_at", "updated_at")
    ordering = ("name",)  # served by the index on name, so a page reads 50 rows
    list_per_page = 50
    actions = (mark_in_stock, mark_out_of_stock)
    cache_keys = CACHE_KEYS

    async def after_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> Response | None:
        response = await super().after_model_change(data, model, is_created, request)
        # Re-embedded in the background (skipped there when the text did not change).
        request.app.state.embeddings.enqueue(model.id)
        return response


@admin.register(Webinar)
class WebinarAdmin(admin.ModelAdmin):
    """Webinars: Sales edits them; Support reads."""

    icon = "fa-solid fa-video"
    list_display = ("id", "title", "starts_at", "duration_minutes", "host")
    search_fields = ("title", "host")
    readonly_fields = ("created_at", "updated_at")
    exclude = ("registrants",)  # hundreds per webinar: edited from their own list
    ordering = ("-starts_at",)


@admin.register(WebinarRegistrant)
class WebinarRegistrantAdmin(admin.ModelAdmin):
    """Registrants: Sales edits them (no adding or deleting); Support reads."""

    icon = "fa-solid fa-users"
    list_display = ("id", "name", "email", "company", "status", "webinar", "registered_at")
    list_filter = ("status", "webinar_id")
    search_fields = ("name", "email", "company", "webinar__title")
    readonly_fields = ("registered_at", "updated_at")
    ordering = ("-registered_at",)
    actions = (mark_attended,)
