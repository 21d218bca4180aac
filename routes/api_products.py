"""JSON API for products: filtered, ordered, paged lists; details; changes with permission."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from deps import IdPath, ProductServiceDep
from fastmango.accounts.auth import require_perm
from fastmango.accounts.models import User
from fastmango.web.api import (
    Paged,
    cached_get,
    errors,
    etag_json,
    json_created,
    ordering_pattern,
    strict_query,
)
from schemas import MAX_PRICE, NO_NUL, ProductCreate, ProductPublic, ProductUpdate
from services.product_service import ORDERABLE

router = APIRouter(prefix="/api/v1/products", tags=["products"])
LIST_PARAMS = (
    "category",
    "in_stock",
    "price_min",
    "price_max",
    "q",
    "ordering",
    "page",
    "per_page",
)

CanAdd = Annotated[User, Depends(require_perm("product.add"))]
CanChange = Annotated[User, Depends(require_perm("product.change"))]
CanDelete = Annotated[User, Depends(require_perm("product.delete"))]


@router.get(
    "",
    response_model=Paged[ProductPublic],
    responses=cached_get(400, 422),
    dependencies=[Depends(strict_query(LIST_PARAMS))],
    summary="List products: filters, `ordering=-price,name`, `page`/`per_page` (max 100)",
)
async def list_products(
    products: ProductServiceDep,
    request: Request,
    category: Annotated[
        str | None, Query(max_length=100, json_schema_extra={"pattern": NO_NUL})
    ] = None,
    in_stock: bool | None = None,
    price_min: Annotated[float | None, Query(ge=0, le=MAX_PRICE)] = None,
    price_max: Annotated[float | None, Query(ge=0, le=MAX_PRICE)] = None,
    q: Annotated[str | None, Query(max_length=200, json_schema_extra={"pattern": NO_NUL})] = None,
    ordering: Annotated[
        str | None, Query(json_schema_extra={"pattern": ordering_pattern(ORDERABLE)})
    ] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    result = await products.find(
        page=page,
        per_page=per_page,
        ordering=ordering,
        q=q,
        category=category,
        in_stock=in_stock,
        price_min=None if price_min is None else Decimal(str(price_min)),
        price_max=None if price_max is None else Decimal(str(price_max)),
    )
    payload = Paged[ProductPublic].of(
        result, [ProductPublic.model_validate(p) for p in result.items]
    )
    return etag_json(request, payload)


@router.get("/{product_id}", response_model=ProductPublic, responses=cached_get(400, 404, 422))
async def read_product(
    products: ProductServiceDep, request: Request, product_id: IdPath
) -> Response:
    product = await products.get(product_id)
    return etag_json(request, ProductPublic.model_validate(product))


@router.post(
    "",
    status_code=201,
    response_model=ProductPublic,
    responses=errors(400, 401, 403, 413, 422),
)
async def create_product(
    products: ProductServiceDep, data: ProductCreate, user: CanAdd
) -> Response:
    product = await products.create(data, actor=user)
    return json_created(ProductPublic.model_validate(product))


@router.patch(
    "/{product_id}",
    response_model=ProductPublic,
    responses=errors(400, 401, 403, 404, 413, 422),
)
async def update_product(
    products: ProductServiceDep, product_id: IdPath, data: ProductUpdate, user: CanChange
) -> ProductPublic:
    return ProductPublic.model_validate(await products.update(product_id, data, actor=user))


@router.delete("/{product_id}", status_code=204, responses=errors(400, 401, 403, 404, 422))
async def delete_product(
    products: ProductServiceDep, product_id: IdPath, user: CanDelete
) -> Response:
    await products.delete(product_id, actor=user)
    return Response(status_code=204)
