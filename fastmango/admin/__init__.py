"""The admin at /admin: Django-style `ModelAdmin` classes on SQLAdmin.

    from fastmango import admin

    @admin.register(Product)
    class ProductAdmin(admin.ModelAdmin):
        list_display = ("id", "name", "price")

admin/views.py holds the registered classes; admin/setup.py mounts them.
"""

from fastmango.admin.actions import action, update_rows
from fastmango.admin.options import ImproperlyConfigured, ModelAdmin, register, registry

__all__ = ["ImproperlyConfigured", "ModelAdmin", "action", "register", "registry", "update_rows"]
