"""JSON API for semantic search: products by meaning, with their similarity to the query."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from deps import SearchServiceDep
from fastmango.web.api import ErrorOut, cached_get, etag_json, strict_query
from schemas import VISIBLE, ProductPublic
from services.search_service import MAX_LIMIT, MAX_QUERY_LENGTH

router = APIRouter(prefix="/api/v1/search", tags=["search"])
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorOut,
        "description": "Semantic search is off (EMBEDDING_PROVIDER=none) or the embedding "
        "provider cannot answer (not installed, unreachable, refused); the detail says which",
    }
}


class SearchHitOut(BaseModel):
    product: ProductPublic
    score: float = Field(
        description="Cosine similarity of the product's and the query's embeddings, "
        "from -1 to 1 (higher is closer)"
    )


class SearchResults(BaseModel):
    q: str
    items: list[SearchHitOut] = Field(description="Best first")


@router.get(
    "",
    response_model=SearchResults,
    responses=cached_get(400, 422) | UNAVAILABLE,
    dependencies=[Depends(strict_query(("q", "limit")))],
    summary="Products closest in meaning to `q` (semantic search), best first",
)
async def search_products(
    search: SearchServiceDep,
    request: Request,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_LENGTH,
            description="What to look for, in words",
            json_schema_extra={"pattern": VISIBLE},
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
) -> Response:
    hits = await search.search(q, limit)
    items = [
        SearchHitOut(product=ProductPublic.model_validate(hit.product), score=hit.score)
        for hit in hits
    ]
    return etag_json(request, SearchResults(q=q, items=items))
