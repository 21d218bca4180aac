"""API documentation pages that work offline: Swagger UI and ReDoc from our own static files."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from assets import Assets

router = APIRouter(tags=["docs"], include_in_schema=False)
FAVICON = "/static/favicon.svg"


def _assets(request: Request) -> Assets:
    assets: Assets = request.app.state.assets
    return assets


@router.get("/docs")
async def read_swagger(request: Request) -> HTMLResponse:
    assets = _assets(request)
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} API",
        swagger_js_url=assets.url("swagger-ui-bundle.js"),
        swagger_css_url=assets.url("swagger-ui.css"),
        swagger_favicon_url=FAVICON,
    )


@router.get("/redoc")
async def read_redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} API",
        redoc_js_url=_assets(request).url("redoc.standalone.js"),
        redoc_favicon_url=FAVICON,
        with_google_fonts=False,
    )
