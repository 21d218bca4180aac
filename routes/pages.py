"""Pages that belong to no one area: the home page and the design showcase."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from deps import ProductServiceDep, TemplatesDep
from fastmango.accounts.auth import get_optional_user
from services import WebinarService

router = APIRouter(
    tags=["pages"],
    default_response_class=HTMLResponse,
    include_in_schema=False,  # HTML for browsers; the API schema documents /api/v1
    # Every page shows the login state in its navigation.
    dependencies=[Depends(get_optional_user)],
)
webinars = WebinarService()


@router.get("/", name="home")
async def read_home(
    products: ProductServiceDep, request: Request, templates: TemplatesDep
) -> HTMLResponse:
    stats = await products.stats()
    upcoming = await webinars.upcoming(per_page=3)
    return templates.TemplateResponse(
        request,
        "pages/home.html",
        {"stats": stats, "webinars": upcoming.items, "webinar_total": upcoming.total},
    )


@router.get("/design", name="design")
async def read_design(request: Request, templates: TemplatesDep) -> HTMLResponse:
    return templates.TemplateResponse(request, "pages/design.html", {})
