"""Business rules and data access. Services never import routes, templates or Request."""

from fastmango.accounts.account_service import AccountService
from services.product_service import ProductService
from services.webinar_service import WebinarService

__all__ = ["AccountService", "ProductService", "WebinarService"]
