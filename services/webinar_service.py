"""Webinars and their registrants: listing with counts, public registration, staff edits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from errors import Conflict
from models import RegistrantStatus, User, Webinar, WebinarRegistrant
from orm import Page, Q, QuerySet, atomic, utcnow
from schemas import RegistrantCreate, RegistrantUpdate, WebinarSummary
from services.audit_service import AuditService, snapshot
from services.product_service import check_page, parse_ordering

REGISTRANT_ORDERABLE = ("id", "name", "email", "company", "status", "registered_at")


class WebinarService:
    """Everything the views do with webinars and registrants goes through here."""

    def __init__(self) -> None:
        self.audit = AuditService()

    async def upcoming(
        self,
        *,
        page: int = 1,
        per_page: int = 20,
        now: datetime | None = None,
        include_past: bool = False,
    ) -> Page[WebinarSummary]:
        """Webinars not yet started (or all), soonest first, each with its registrant count."""
        check_page(page, per_page)
        qs = Webinar.objects.all()
        if not include_past:
            qs = qs.filter(starts_at__gte=now or utcnow())
        result = await qs.order_by("starts_at", "id").paginate(page, per_page)
        counts = await self.registrant_counts([w.id for w in result.items if w.id is not None])
        items = [
            WebinarSummary.model_validate(w).model_copy(
                update={"registrant_count": counts.get(w.id or 0, 0)}
            )
            for w in result.items
        ]
        return Page(items=items, total=result.total, page=result.page, per_page=result.per_page)

    async def registrant_counts(self, webinar_ids: list[int]) -> dict[int, int]:
        """Registrants per webinar for a page of webinars, in one grouped query."""
        if not webinar_ids:
            return {}
        session = Webinar.objects.session
        column = col(WebinarRegistrant.webinar_id)
        rows = await session.execute(
            select(column, func.count()).where(column.in_(webinar_ids)).group_by(column)
        )
        return dict(rows.tuples().all())

    async def get(self, webinar_id: int) -> Webinar:
        return await Webinar.objects.get_or_404(id=webinar_id)

    async def summary(self, webinar_id: int) -> WebinarSummary:
        webinar = await self.get(webinar_id)
        counts = await self.registrant_counts([webinar_id])
        return WebinarSummary.model_validate(webinar).model_copy(
            update={"registrant_count": counts.get(webinar_id, 0)}
        )

    async def register(self, webinar_id: int, data: RegistrantCreate) -> WebinarRegistrant:
        """Register someone; the same email twice for one webinar is a Conflict."""
        webinar = await self.get(webinar_id)
        if webinar.starts_at < utcnow():
            raise Conflict("This webinar has already started; registration is closed.")
        email = data.email.strip().lower()
        try:
            return await WebinarRegistrant.objects.create(
                webinar_id=webinar.id, name=data.name, email=email, company=data.company.strip()
            )
        except IntegrityError:
            raise Conflict(f"{email} is already registered for this webinar.") from None

    def registrants(
        self, webinar_id: int, *, q: str | None = None, status: str | None = None
    ) -> QuerySet[WebinarRegistrant]:
        qs: QuerySet[WebinarRegistrant] = WebinarRegistrant.objects.filter(webinar_id=webinar_id)
        if q and q.strip():
            term = q.strip()
            qs = qs.filter(
                Q(name__icontains=term) | Q(email__icontains=term) | Q(company__icontains=term)
            )
        if status:
            qs = qs.filter(status=status)
        return qs

    async def find_registrants(
        self,
        webinar_id: int,
        *,
        q: str | None = None,
        status: str | None = None,
        ordering: str | None = None,
        page: int = 1,
        per_page: int = 24,
    ) -> Page[WebinarRegistrant]:
        check_page(page, per_page)
        await self.get(webinar_id)
        order = parse_ordering(ordering, REGISTRANT_ORDERABLE, "name")
        qs = self.registrants(webinar_id, q=q, status=status).order_by(*order, "id")
        return await qs.paginate(page, per_page)

    async def update_registrant(
        self, registrant_id: int, data: RegistrantUpdate, actor: User | None = None
    ) -> WebinarRegistrant:
        registrant = await WebinarRegistrant.objects.get_or_404(id=registrant_id)
        before = snapshot(registrant)
        async with atomic():
            if data.status is not None:
                registrant.status = RegistrantStatus(data.status)
            if data.notes is not None:
                registrant.notes = data.notes
            await registrant.save()
            await self.audit.changed(actor, registrant, before)
        return registrant
