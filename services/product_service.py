"""Products: listing with filters from query strings, details, changes, stats."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from fastmango.accounts.audit_service import AuditService, snapshot
from fastmango.accounts.models import User
from fastmango.cache import Cache, MemoryCache, get_or_set
from fastmango.orm import Avg, Count, FieldError, Page, Q, QuerySet, atomic
from models import Product
from schemas import CategoryStats, ProductCreate, ProductStats, ProductUpdate
from services.embedding_service import EmbeddingQueue

ORDERABLE = ("id", "name", "price", "category", "in_stock", "created_at", "updated_at")
MAX_PER_PAGE = 100


def parse_ordering(ordering: str | None, allowed: tuple[str, ...], default: str) -> list[str]:
    """`"-price,name"` -> ["-price", "name"]; unknown fields raise FieldError naming them."""
    fields = (default if ordering is None else ordering).split(",")
    unknown = [repr(f) for f in fields if f.removeprefix("-") not in allowed]
    if unknown:
        raise FieldError(
            f"Unknown ordering field(s): {', '.join(unknown)}. Allowed: {', '.join(allowed)}"
        )
    return fields


def check_page(page: int, per_page: int) -> None:
    if page < 1:
        raise FieldError("page must be 1 or more")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise FieldError(f"per_page must be between 1 and {MAX_PER_PAGE}")


# Aggregates over the whole table, read on every home and list page: cached briefly and
# dropped whenever a product changes through this service.
STATS_KEY = "products:stats"
CATEGORIES_KEY = "products:categories"
BY_CATEGORY_KEY = "products:by-category"
CACHE_KEYS = (STATS_KEY, CATEGORIES_KEY, BY_CATEGORY_KEY)
CACHE_SECONDS = 60


class ProductService:
    """Everything the views do with products goes through here; changes are audited."""

    def __init__(
        self, cache: Cache | None = None, embeddings: EmbeddingQueue | None = None
    ) -> None:
        self.audit = AuditService()
        self.cache: Cache = cache if cache is not None else MemoryCache()
        # Saved products are queued for (re-)embedding after the commit; None: not at all.
        self.embeddings = embeddings

    async def _changed(self) -> None:
        await self.cache.delete(*CACHE_KEYS)

    def filtered(
        self,
        *,
        q: str | None = None,
        category: str | None = None,
        in_stock: bool | None = None,
        price_min: Decimal | None = None,
        price_max: Decimal | None = None,
    ) -> QuerySet[Product]:
        qs: QuerySet[Product] = Product.objects.all()
        if q and q.strip():
            term = q.strip()
            qs = qs.filter(Q(name__icontains=term) | Q(description__icontains=term))
        if category:
            qs = qs.filter(category=category)
        if in_stock is not None:
            qs = qs.filter(in_stock=in_stock)
        if price_min is not None:
            qs = qs.filter(price__gte=price_min)
        if price_max is not None:
            qs = qs.filter(price__lte=price_max)
        return qs

    async def find(
        self,
        *,
        page: int = 1,
        per_page: int = 20,
        ordering: str | None = None,
        **filters: Any,
    ) -> Page[Product]:
        check_page(page, per_page)
        order = parse_ordering(ordering, ORDERABLE, "name")
        return await self.filtered(**filters).order_by(*order, "id").paginate(page, per_page)

    async def get(self, product_id: int) -> Product:
        return await Product.objects.get_or_404(id=product_id)

    async def create(self, data: ProductCreate, actor: User | None = None) -> Product:
        """Insert a product and its audit row in one transaction."""
        async with atomic():
            product = await Product.objects.create(**data.model_dump())
            await self.audit.created(actor, product)
        await self._changed()
        if self.embeddings is not None:
            self.embeddings.enqueue(product.id)
        return product

    async def update(
        self, product_id: int, data: ProductUpdate, actor: User | None = None
    ) -> Product:
        product = await self.get(product_id)
        before = snapshot(product)
        async with atomic():
            for name, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
                setattr(product, name, value)
            await product.save()
            await self.audit.changed(actor, product, before)
        await self._changed()
        if self.embeddings is not None:
            self.embeddings.enqueue(product.id)
        return product

    async def delete(self, product_id: int, actor: User | None = None) -> None:
        product = await self.get(product_id)
        before = snapshot(product)
        async with atomic():
            await self.audit.deleted(actor, product, before)
            await product.delete()
        await self._changed()

    async def categories(self) -> list[str]:
        """Distinct categories, sorted (cached; one indexed query when not)."""

        async def compute() -> list[str]:
            qs = Product.objects.order_by("category").distinct()
            values: list[str] = await qs.values_list("category", flat=True)
            return values

        categories: list[str] = await get_or_set(self.cache, CATEGORIES_KEY, compute, CACHE_SECONDS)
        return categories

    async def stats(self, **filters: Any) -> ProductStats:
        """Count, average price and share in stock of the products matching `filters`.

        The whole catalogue's figures (no filter) are cached; a filtered set is two queries.
        """
        if any(value not in (None, "") for value in filters.values()):
            return ProductStats.model_validate(await self._stats(self.filtered(**filters)))
        cached = await get_or_set(
            self.cache, STATS_KEY, lambda: self._stats(Product.objects.all()), CACHE_SECONDS
        )
        return ProductStats.model_validate(cached)

    async def by_category(self) -> list[CategoryStats]:
        """Products and average price per category, largest first (cached; one grouped query)."""

        async def compute() -> list[dict[str, Any]]:
            category = col(Product.category)
            rows = await Product.objects.session.execute(
                select(category, func.count(), func.avg(col(Product.price)))
                .group_by(category)
                .order_by(func.count().desc(), category)
            )
            return [
                CategoryStats(
                    category=name,
                    count=count,
                    average_price=Decimal(str(average)).quantize(Decimal("0.01")),
                ).model_dump(mode="json")
                for name, count, average in rows.tuples()
            ]

        cached = await get_or_set(self.cache, BY_CATEGORY_KEY, compute, CACHE_SECONDS)
        return [CategoryStats.model_validate(row) for row in cached]

    async def _stats(self, qs: QuerySet[Product]) -> dict[str, Any]:
        totals = await qs.aggregate(count=Count("id"), average=Avg("price"))
        in_stock = await qs.filter(in_stock=True).count()
        count = int(totals["count"] or 0)
        average = totals["average"]
        return ProductStats(
            count=count,
            average_price=None
            if average is None
            else Decimal(str(average)).quantize(Decimal("0.01")),
            in_stock_share=in_stock / count if count else 0.0,
        ).model_dump(mode="json")
