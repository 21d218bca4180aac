"""HTML pages: home, products and webinars."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from auth import get_optional_user
from deps import IdPath, ProductServiceDep, TemplatesDep
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
        request, "pages/home.html", {"stats": stats, "webinars": upcoming.items}
    )


@router.get("/products", name="product_list")
async def list_products(
    products: ProductServiceDep,
    request: Request,
    templates: TemplatesDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    in_stock: bool | None = None,
    price_min: Annotated[Decimal | None, Query(ge=0, max_digits=12)] = None,
    price_max: Annotated[Decimal | None, Query(ge=0, max_digits=12)] = None,
    ordering: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> HTMLResponse:
    filters = {
        "q": q,
        "category": category or None,
        "in_stock": in_stock,
        "price_min": price_min,
        "price_max": price_max,
    }
    # A browser form may send `ordering=` for "default"; the API is strict about it.
    ordering = ordering or None
    result = await products.find(page=page, per_page=per_page, ordering=ordering, **filters)
    # The pager keeps every filter; the same URL works with or without JavaScript.
    kept = {**filters, "ordering": ordering, "per_page": per_page}
    query = urlencode({k: v for k, v in kept.items() if v not in (None, "", 20)})
    context = {
        "page": result,
        "filters": filters,
        "ordering": ordering or "name",
        "query": f"{query}&" if query else "",
        "categories": await products.categories(),
    }
    return templates.TemplateResponse(request, "products/list.html", context)


@router.get("/products/{product_id}", name="product_detail")
async def read_product(
    products: ProductServiceDep, request: Request, product_id: IdPath, templates: TemplatesDep
) -> HTMLResponse:
    product = await products.get(product_id)
    return templates.TemplateResponse(request, "products/detail.html", {"product": product})


@router.get("/webinars", name="webinar_list")
async def list_webinars(
    request: Request,
    templates: TemplatesDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    result = await webinars.upcoming(page=page, per_page=20)
    return templates.TemplateResponse(request, "webinars/list.html", {"page": result})


@router.get("/webinars/{webinar_id}", name="webinar_detail")
async def read_webinar(
    request: Request, webinar_id: IdPath, templates: TemplatesDep
) -> HTMLResponse:
    webinar = await webinars.get(webinar_id)
    counts = await webinars.registrant_counts([webinar_id])
    return templates.TemplateResponse(
        request,
        "webinars/detail.html",
        {"webinar": webinar, "registrant_count": counts.get(webinar_id, 0)},
    )
