"""Semantic search: products ranked by the cosine similarity of their embedding to a query's.

PostgreSQL ranks with pgvector (`ORDER BY embedding <=> :query LIMIT k`, served by the HNSW
index); SQLite has no vector index, so `VectorIndex` keeps the vectors as one NumPy matrix
per app and ranks them there. Both give the same order for the same vectors.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import Select, func, select, text, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fastmango.errors import ValidationError
from fastmango.orm import current_session
from models import EMBEDDING_DIMENSIONS, Product, ProductEmbedding
from services.embeddings import Embedder, Vectors, normalized

MAX_LIMIT = 100
MAX_QUERY_LENGTH = 200
HNSW_EF_SEARCH = 40  # pgvector's default: an HNSW scan yields at most this many rows
PAGE_SIZE = 2000  # vectors read per query when (re)loading the SQLite matrix


@dataclass(frozen=True)
class SearchHit:
    """A product and how close its meaning is to the query: the cosine similarity of the
    two embeddings, from -1 to 1 (1: same direction; unrelated texts score near 0)."""

    product: Product
    score: float


class VectorIndex:
    """The SQLite ranking: every stored vector of a model, normalised, in one float32 matrix.

    Loaded in pages on first use and again whenever the table's version (row count and
    latest `updated_at` for the model) changes, so changes made by the app, by another
    process or by `manage.py embed` are all seen; one small query checks it per search.
    """

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._ids = np.zeros(0, dtype=np.int64)
        self._matrix: Vectors = np.zeros((0, EMBEDDING_DIMENSIONS), dtype=np.float32)
        self._lock = asyncio.Lock()

    async def _version(self, session: AsyncSession, model: str) -> tuple[Any, ...]:
        row = (
            await session.execute(
                select(func.count(), func.max(col(ProductEmbedding.updated_at))).where(
                    col(ProductEmbedding.model) == model
                )
            )
        ).one()
        return (model, *row)

    async def _load(self, session: AsyncSession, model: str) -> None:
        ids: list[int] = []
        vectors: list[Any] = []
        product_id, embedding = col(ProductEmbedding.product_id), col(ProductEmbedding.embedding)
        while True:
            query = select(product_id, embedding).where(col(ProductEmbedding.model) == model)
            if ids:
                query = query.where(product_id > ids[-1])
            page = (await session.execute(query.order_by(product_id).limit(PAGE_SIZE))).all()
            ids += [row[0] for row in page]
            vectors += [row[1] for row in page]
            if len(page) < PAGE_SIZE:
                break
        self._ids = np.asarray(ids, dtype=np.int64)
        matrix = np.stack(vectors) if vectors else self._matrix[:0]
        self._matrix = normalized(matrix)

    async def nearest(
        self, session: AsyncSession, model: str, query: Vectors, limit: int
    ) -> list[tuple[int, float]]:
        """The `limit` closest (product id, cosine similarity), best first; ties by id."""
        key = await self._version(session, model)
        if key != self._key:
            async with self._lock:
                if key != self._key:
                    await self._load(session, model)
                    self._key = key
        ids, matrix = self._ids, self._matrix
        scores = matrix @ normalized(query.reshape(1, -1))[0]
        if len(scores) > limit:
            top = np.argpartition(-scores, limit - 1)[:limit]
        else:
            top = np.arange(len(scores))
        order = top[np.lexsort((ids[top], -scores[top]))]
        return [(int(ids[i]), float(scores[i])) for i in order]


class SearchService:
    """Products by meaning. `search` embeds the query with the app's provider (503 when it
    is off or failing); `nearest` ranks by a vector you already have."""

    def __init__(self, embedder: Embedder, index: VectorIndex) -> None:
        self.embedder = embedder
        self.index = index

    async def search(self, q: str, limit: int = 10) -> list[SearchHit]:
        """The `limit` (1-100) products closest in meaning to `q`, best first."""
        q = q.strip()
        if not q:
            raise ValidationError("q must contain some text to search for")
        if "\x00" in q:
            raise ValidationError("q must not contain NUL characters")
        if len(q) > MAX_QUERY_LENGTH:
            raise ValidationError(f"q must be at most {MAX_QUERY_LENGTH} characters")
        check_limit(limit)
        vector = (await self.embedder.embed([q]))[0]
        return await self.nearest(vector, limit)

    async def nearest(self, vector: Sequence[float] | Vectors, limit: int = 10) -> list[SearchHit]:
        """The `limit` products whose embedding is closest to `vector` (not normalised: fine)."""
        check_limit(limit)
        query = np.asarray(vector, dtype=np.float32)
        if not np.any(query):
            return []  # a zero vector has no direction: nothing is near it
        session = current_session()
        if session.get_bind().dialect.name == "postgresql":
            return await self._nearest_pgvector(session, query, limit)
        ranked = await self.index.nearest(session, self.embedder.model, query, limit)
        found = await Product.objects.filter(id__in=[product_id for product_id, _ in ranked])
        products = {product.id: product for product in found}
        return [SearchHit(products[pid], score) for pid, score in ranked if pid in products]

    async def _nearest_pgvector(
        self, session: AsyncSession, query: Vectors, limit: int
    ) -> list[SearchHit]:
        if limit > HNSW_EF_SEARCH:
            # Let the index scan yield enough rows for the limit (this transaction only).
            await session.execute(text(f"SET LOCAL hnsw.ef_search = {int(limit)}"))
        rows = await session.execute(pgvector_query(query, limit, self.embedder.model))
        # A zero vector stored for a product has no direction: pgvector gives NaN, NumPy 0.
        return [
            SearchHit(product, 0.0 if math.isnan(distance) else 1.0 - float(distance))
            for product, distance in rows.tuples()
        ]


def pgvector_query(query: Vectors, limit: int, model: str) -> Select[tuple[Product, float]]:
    """The `limit` products nearest to `query`, with their cosine distance, nearest first.

    The inner query is the plain `ORDER BY embedding <=> :q LIMIT k` that the HNSW index
    serves; the products come with it, in the same statement.
    """
    # VectorType picks pgvector's type per dialect; coerce to reach its comparator.
    embedding = type_coerce(col(ProductEmbedding.embedding), Vector(EMBEDDING_DIMENSIONS))
    distance = embedding.cosine_distance(query)
    nearest = (
        select(col(ProductEmbedding.product_id), distance.label("distance"))
        .where(col(ProductEmbedding.model) == model)
        .order_by(distance)
        .limit(limit)
        .subquery()
    )
    return (
        select(Product, nearest.c.distance)
        .join(nearest, col(Product.id) == nearest.c.product_id)
        .order_by(nearest.c.distance, col(Product.id))
    )


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}")
