"""The admin app: the site at /admin for every registered ModelAdmin."""

from fastmango.apps import AppConfig


class AdminConfig(AppConfig):
    name = "fastmango.admin"
    verbose_name = "Administration"
    # Its pages for the accounts app (users, groups, the audit log); every other app
    # brings its own `admin` module.
    modules = ("accounts",)
