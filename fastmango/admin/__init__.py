"""The admin at /admin: Django-style `ModelAdmin` classes on SQLAdmin.

    from fastmango.admin import admin

    @admin.register(Product)
    class ProductAdmin(admin.ModelAdmin):
        list_display = ("id", "name", "price")

A project keeps its classes in its admin module(s); `setup.mount` puts the
registered ones on the app at /admin.
"""

from fastmango.admin import admin
from fastmango.admin.actions import action, update_rows
from fastmango.admin.options import ImproperlyConfigured, ModelAdmin, register, registry

__all__ = [
    "ImproperlyConfigured",
    "ModelAdmin",
    "action",
    "admin",
    "register",
    "registry",
    "update_rows",
]
