"""The reference app as an installed app: its tables and admin classes (Django's apps.py).

The project keeps its modules at the top level (models.py, admin/), so the config
has a label and no package name.
"""

from fastmango.apps import AppConfig


class CatalogueConfig(AppConfig):
    label = "catalogue"
    verbose_name = "Catalogue and webinars"
    modules = ("models", "admin.views")
