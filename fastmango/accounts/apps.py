"""The accounts app: users, groups, permissions and tokens, and their admin pages."""

from fastmango.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "fastmango.accounts"
    verbose_name = "Accounts"
