"""The admin app: the site at /admin for every registered ModelAdmin."""

from fastmango.apps import AppConfig


class AdminConfig(AppConfig):
    name = "fastmango.admin"
    verbose_name = "Administration"
    modules = ()  # the admin classes live in the other apps' `admin` modules
