"""Product pages: the searchable list (full page or HTMX fragment), details, staff forms."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from deps import IdPath, ProductServiceDep, SearchServiceDep, TemplatesDep
from fastmango.accounts.auth import OptionalUser, get_optional_user, require_perm
from fastmango.accounts.models import User
from fastmango.orm import Page
from fastmango.web.flash import flash
from fastmango.web.forms import query_string, read_form, validate
from fastmango.web.templating import render_page, wants_partial
from models import Product
from schemas import ProductCreate, ProductUpdate
from services.embeddings import EmbeddingUnavailable
from services.search_service import MAX_LIMIT, SearchHit, SearchService

router = APIRouter(
    prefix="/products",
    tags=["products"],
    default_response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[Depends(get_optional_user)],
)
SORTABLE = ("name", "category", "price", "in_stock")
FORM_FIELDS = ("name", "description", "price", "category")
CanAdd = Annotated[User, Depends(require_perm("product.add"))]
CanChange = Annotated[User, Depends(require_perm("product.change"))]


@dataclass(frozen=True)
class ProductQuery:
    """The list page's state, all in the query string so every view has a URL."""

    q: str | None
    category: str | None
    in_stock: bool | None
    price_min: Decimal | None
    price_max: Decimal | None
    ordering: str | None
    page: int
    per_page: int
    mode: Literal["semantic"] | None = None  # None: words in the name or description

    @property
    def semantic(self) -> bool:
        return self.mode == "semantic" and self.q is not None

    def filters(self) -> dict[str, Any]:
        return {
            "q": self.q,
            "category": self.category,
            "in_stock": self.in_stock,
            "price_min": self.price_min,
            "price_max": self.price_max,
        }

    def params(self) -> dict[str, Any]:
        """What the URL carries (defaults left out, so URLs stay short)."""
        params = asdict(self)
        params["in_stock"] = None if self.in_stock is None else str(self.in_stock).lower()
        params["page"] = None if self.page == 1 else self.page
        params["per_page"] = None if self.per_page == 20 else self.per_page
        return params


async def product_query(
    q: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    # A browser select sends "" for "any".
    in_stock: Literal["", "true", "false"] | None = None,
    price_min: Annotated[Decimal | None, Query(ge=0, max_digits=12)] = None,
    price_max: Annotated[Decimal | None, Query(ge=0, max_digits=12)] = None,
    ordering: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    mode: Literal["", "words", "semantic"] | None = None,
) -> ProductQuery:
    return ProductQuery(
        q=q.strip() if q and q.strip() else None,
        category=category or None,
        in_stock={"true": True, "false": False}.get(in_stock or ""),
        price_min=price_min,
        price_max=price_max,
        ordering=ordering or None,
        page=page,
        per_page=per_page,
        mode="semantic" if mode == "semantic" else None,
    )


@router.get("", name="product_list")
async def list_products(
    request: Request,
    products: ProductServiceDep,
    search: SearchServiceDep,
    templates: TemplatesDep,
    query: Annotated[ProductQuery, Depends(product_query)],
) -> Response:
    scores: dict[int | None, float] = {}
    notice, status = None, 200
    filters = query.filters()
    if query.semantic:
        filters["q"] = None  # the ranking replaces the word match
        result, scores, notice = await _semantic_page(search, query)
        # The page still works. htmx swaps no 5xx answer, so its fragment says 200.
        status = 503 if notice and not wants_partial(request) else 200
    else:
        result = await products.find(
            page=query.page, per_page=query.per_page, ordering=query.ordering, **filters
        )
    params = query.params()

    def url(**changes: Any) -> str:
        return query_string(params, **changes)

    def sort_url(field: str) -> str:
        current = query.ordering or "name"
        return url(ordering=f"-{field}" if current == field else field, page=None)

    context = {
        "page": result,
        "query": query,
        "ordering": query.ordering or "name",
        "url": url,
        "sort_url": sort_url,
        "sortable": SORTABLE,
        "scores": scores,
        "notice": notice,
        "semantic_available": search.embedder.enabled,
        "stats": await products.stats(**filters),
        "chart": await products.by_category(),
        "categories": await products.categories(),
    }
    return render_page(
        templates, request, "products/list.html", "products/_results.html", context, status
    )


async def _semantic_page(
    search: SearchService, query: ProductQuery
) -> tuple[Page[Product], dict[int | None, float], str | None]:
    """The best matches by meaning that pass the other filters, their scores, and why
    there are none when the provider cannot answer."""
    try:
        hits = await search.search(query.q or "", MAX_LIMIT)
    except EmbeddingUnavailable as exc:
        return Page([], 0, 1, query.per_page), {}, exc.detail
    kept = [hit for hit in hits if _matches(hit, query)][: query.per_page]
    page = Page([hit.product for hit in kept], len(kept), 1, query.per_page)
    return page, {hit.product.id: hit.score for hit in kept}, None


def _matches(hit: SearchHit, query: ProductQuery) -> bool:
    """The list's other filters, applied to the semantic ranking's best matches."""
    product = hit.product
    return (
        (query.category is None or product.category == query.category)
        and (query.in_stock is None or product.in_stock == query.in_stock)
        and (query.price_min is None or product.price >= query.price_min)
        and (query.price_max is None or product.price <= query.price_max)
    )


@router.get("/new", name="product_new")
async def new_product(request: Request, templates: TemplatesDep, user: CanAdd) -> Response:
    context = {"product": None, "values": {"in_stock": True}, "errors": {}}
    return templates.TemplateResponse(request, "products/form.html", context)


@router.post("/new")
async def create_product(
    request: Request, products: ProductServiceDep, templates: TemplatesDep, user: CanAdd
) -> Response:
    values = await _form_values(request)
    data, errors = validate(ProductCreate, values)
    if data is None:
        context = {"product": None, "values": values, "errors": errors}
        return templates.TemplateResponse(request, "products/form.html", context, 422)
    product = await products.create(data, actor=user)
    flash(request, "success", f"Product “{product.name}” was added.")
    return RedirectResponse(request.url_for("product_detail", product_id=product.id), 303)


@router.get("/{product_id}", name="product_detail")
async def read_product(
    request: Request,
    product_id: IdPath,
    products: ProductServiceDep,
    templates: TemplatesDep,
    user: OptionalUser,
) -> Response:
    product = await products.get(product_id)
    return templates.TemplateResponse(request, "products/detail.html", {"product": product})


@router.get("/{product_id}/edit", name="product_edit")
async def edit_product(
    request: Request,
    product_id: IdPath,
    products: ProductServiceDep,
    templates: TemplatesDep,
    user: CanChange,
) -> Response:
    product = await products.get(product_id)
    values = {name: getattr(product, name) for name in (*FORM_FIELDS, "in_stock")}
    context = {"product": product, "values": values, "errors": {}}
    return templates.TemplateResponse(request, "products/form.html", context)


@router.post("/{product_id}/edit")
async def update_product(
    request: Request,
    product_id: IdPath,
    products: ProductServiceDep,
    templates: TemplatesDep,
    user: CanChange,
) -> Response:
    product = await products.get(product_id)
    values = await _form_values(request)
    # Every field is on the form: validate as a whole product, then save the changes.
    data, errors = validate(ProductCreate, values)
    if data is None:
        context = {"product": product, "values": values, "errors": errors}
        return templates.TemplateResponse(request, "products/form.html", context, 422)
    await products.update(product_id, ProductUpdate(**data.model_dump()), actor=user)
    flash(request, "success", f"Product “{data.name}” was saved.")
    return RedirectResponse(request.url_for("product_detail", product_id=product_id), 303)


async def _form_values(request: Request) -> dict[str, Any]:
    values: dict[str, Any] = await read_form(request, FORM_FIELDS)
    form = await request.form()  # parsed once; Starlette caches it on the request
    values["in_stock"] = form.get("in_stock") in {"on", "true", "1"}
    return values
