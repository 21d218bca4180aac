"""Product embeddings: computed in batches, stored once per text, kept fresh after changes.

A product's embedding is stale when the digest of its text and the model differs from the
stored `content_hash`; only stale ones are sent to the provider, so `manage.py embed` can
stop and resume, and a save that changed only the price costs one small query.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from fastmango.db import Database
from fastmango.orm import current_session, utcnow
from models import Product, ProductEmbedding
from services.embeddings import Embedder, EmbeddingUnavailable

logger = logging.getLogger("fastmango.embeddings")


def product_text(product: Product) -> str:
    """What is embedded: the name, the category and the description."""
    return "\n".join(part for part in (product.name, product.category, product.description) if part)


def content_hash(text: str, model: str) -> str:
    return hashlib.sha256(f"{model}\0{text}".encode()).hexdigest()


class EmbeddingService:
    """Embeds products and stores the vectors (one upsert per batch)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    async def embed_products(self, products: Sequence[Product], force: bool = False) -> int:
        """Embed those of `products` whose text changed since they were embedded (all of
        them with `force`); returns how many were embedded. Commits."""
        session = current_session()
        ids = [p.id for p in products if p.id is not None]
        query = select(col(ProductEmbedding.product_id), col(ProductEmbedding.content_hash))
        result = await session.execute(query.where(col(ProductEmbedding.product_id).in_(ids)))
        stored = dict(result.tuples().all())
        todo: list[tuple[int, str, str]] = []
        for product in products:
            text = product_text(product)
            digest = content_hash(text, self.embedder.model)
            if product.id is not None and (force or stored.get(product.id) != digest):
                todo.append((product.id, text, digest))
        # No transaction stays open while the provider works (SQLite could not turn a
        # stale read into a write; PostgreSQL would hold a connection idle in transaction).
        await session.commit()
        if not todo:
            return 0
        vectors = await self.embedder.embed([text for _, text, _ in todo])
        now = utcnow()
        rows: list[dict[str, Any]] = [
            {
                "product_id": product_id,
                "embedding": vector,
                "model": self.embedder.model,
                "content_hash": digest,
                "updated_at": now,
            }
            for (product_id, _, digest), vector in zip(todo, vectors, strict=True)
        ]
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        insert = dialect.insert(ProductEmbedding).values(rows)
        update = {name: insert.excluded[name] for name in rows[0] if name != "product_id"}
        await session.execute(
            insert.on_conflict_do_update(index_elements=["product_id"], set_=update)
        )
        await session.commit()
        return len(todo)

    async def embed_ids(self, product_ids: Sequence[int], force: bool = False) -> int:
        """`embed_products` for the products with these ids (missing ones are skipped)."""
        products = await Product.objects.filter(id__in=list(product_ids)).order_by("id")
        return await self.embed_products(products, force)


class EmbeddingQueue:
    """Products to (re-)embed after a change, worked off in batches by one task the app
    starts and stops with its lifespan, so a save never waits on the provider.

    `enqueue` returns at once; `join` waits until everything enqueued so far is done
    (tests use it instead of sleeping). A batch the provider cannot take is logged and
    left stale: `manage.py embed` catches up later. With the provider off it does nothing.
    """

    def __init__(self, database: Database, embedder: Embedder, batch_size: int = 32) -> None:
        self.database = database
        self.embedder = embedder
        self.service = EmbeddingService(embedder)
        self.batch_size = batch_size
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def enqueue(self, *product_ids: int | None) -> None:
        if self.embedder.enabled:
            for product_id in product_ids:
                if product_id is not None:
                    self._queue.put_nowait(product_id)

    async def start(self) -> None:
        if self.embedder.enabled and self._task is None:
            self._task = asyncio.create_task(self._work(), name="embedding-queue")

    async def join(self) -> None:
        """Wait until every product enqueued so far has been embedded (or given up on)."""
        await self._queue.join()

    async def stop(self) -> None:
        """Stop the worker (products still queued stay stale) and close the provider."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            if left := self._queue.qsize():
                logger.info("%d product(s) left to embed: run `manage.py embed`", left)
        await self.embedder.aclose()

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._embed(sorted(set(batch)))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _embed(self, product_ids: list[int]) -> None:
        try:
            async with self.database.session():
                await self.service.embed_ids(product_ids)
        except EmbeddingUnavailable as exc:
            logger.warning("Products %s not embedded: %s", product_ids, exc.detail)
        except IntegrityError:
            logger.info("Products %s changed while being embedded; left stale", product_ids)
        except Exception:
            # The worker must outlive one bad batch; the traceback goes to the log.
            logger.exception("Embedding products %s failed", product_ids)
