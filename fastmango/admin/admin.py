"""`from fastmango.admin import admin`: Django's `admin` module, the names a project uses.

from fastmango.admin import admin

@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ("title", "published")
"""

from fastmango.admin.actions import action, update_rows
from fastmango.admin.options import ImproperlyConfigured, ModelAdmin, register, registry

__all__ = ["ImproperlyConfigured", "ModelAdmin", "action", "register", "registry", "update_rows"]
