"""The view layer. `ROUTERS` is the one list of routers the app includes, in order.

`manage.py startapp NAME` adds its module to the import and its router to the list.
"""

from fastapi import APIRouter

from fastmango.accounts import api as api_auth
from fastmango.accounts import routes as accounts
from fastmango.web import docs, health
from routes import (
    api_chat,
    api_products,
    api_search,
    api_webinars,
    chat,
    pages,
    products,
    registrants,
    webinars,
)

ROUTERS: list[APIRouter] = [
    health.router,
    pages.router,
    products.router,
    webinars.router,
    registrants.router,
    chat.router,
    accounts.router,
    api_auth.router,
    api_chat.router,
    api_products.router,
    api_search.router,
    api_webinars.router,
    docs.router,
    # startapp: new routers go above this line
]
