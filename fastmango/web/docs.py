"""API documentation pages that work offline and under the Content-Security-Policy.

Swagger UI and ReDoc come from our own static files. FastAPI's stock pages start them
with an inline <script> (and ReDoc's with an inline <style>), which the policy forbids:
here the start-up code is a static file (static/js/swagger-init.js, redoc-init.js)
reading its settings from data attributes, and ReDoc's <style> elements get the page's
nonce (security_headers.py).
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from fastmango.web.assets import Assets

router = APIRouter(tags=["docs"], include_in_schema=False)
FAVICON = "/static/favicon.svg"

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="{favicon}">
{head}
</head>
<body>
{body}
</body>
</html>
"""


def _page(request: Request, head: str, body: str) -> HTMLResponse:
    title = escape(f"{request.app.title} API")
    return HTMLResponse(PAGE.format(title=title, favicon=FAVICON, head=head, body=body))


def _assets(request: Request) -> Assets:
    assets: Assets = request.app.state.assets
    return assets


@router.get("/docs")
async def read_swagger(request: Request) -> HTMLResponse:
    assets = _assets(request)
    openapi_url = escape(request.app.openapi_url or "")
    head = f'<link rel="stylesheet" href="{assets.url("swagger-ui.css")}">'
    body = (
        f'<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>\n'
        f'<script src="{assets.url("swagger-ui-bundle.js")}"></script>\n'
        f'<script src="{assets.url("swagger-init.js")}"></script>'
    )
    return _page(request, head, body)


@router.get("/redoc")
async def read_redoc(request: Request) -> HTMLResponse:
    assets = _assets(request)
    openapi_url = escape(request.app.openapi_url or "")
    nonce = escape(getattr(request.state, "csp_nonce", ""))
    body = (
        f'<div id="redoc" data-spec-url="{openapi_url}"></div>\n'
        # The init script first: it hands the nonce to every <style> the bundle writes.
        f'<script src="{assets.url("redoc-init.js")}" nonce="{nonce}"></script>\n'
        f'<script src="{assets.url("redoc.standalone.js")}"></script>'
    )
    head = f'<style nonce="{nonce}">body {{ margin: 0; padding: 0; }}</style>'
    return _page(request, head, body)
