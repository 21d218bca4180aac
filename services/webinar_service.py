"""Webinars and their registrants: listing with counts, public registration, staff edits."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from fastmango.accounts.audit_service import AuditService, snapshot
from fastmango.accounts.models import User
from fastmango.errors import Conflict
from fastmango.images import process_image
from fastmango.orm import Page, Q, QuerySet, atomic, utcnow
from fastmango.storage import Storage, StorageError, is_storage_name, new_name
from models import RegistrantStatus, Webinar, WebinarRegistrant
from schemas import RegistrantCreate, RegistrantUpdate, WebinarSummary
from services.product_service import check_page, parse_ordering

REGISTRANT_ORDERABLE = ("id", "name", "email", "company", "status", "registered_at")
PHOTO_FOLDER = "registrants"

logger = logging.getLogger("fastmango.webinars")


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

    async def get_registrant(self, registrant_id: int) -> WebinarRegistrant:
        return await WebinarRegistrant.objects.get_or_404(id=registrant_id)

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

    async def set_photo(
        self,
        registrant_id: int,
        data: bytes,
        storage: Storage,
        *,
        max_bytes: int,
        actor: User | None = None,
    ) -> WebinarRegistrant:
        """Check and shrink an uploaded image, store it, make it the registrant's photo.

        `InvalidImage` (400), `PayloadTooLarge` (413) or `NotFound` leave everything as it was.
        The old file goes only once the row names the new one; if the row cannot be saved,
        the new file goes instead.
        """
        # The image first: no database work (or open transaction) for a file we refuse.
        image = await process_image(data, max_bytes=max_bytes)
        registrant = await WebinarRegistrant.objects.get_or_404(id=registrant_id)
        previous = registrant.photo
        before = snapshot(registrant)
        name = new_name(PHOTO_FOLDER, image.extension)
        await storage.save(name, image.data, image.content_type)
        try:
            async with atomic():
                registrant.photo = name
                await registrant.save()
                await self.audit.changed(actor, registrant, before)
        except Exception:
            await self._discard(storage, name)  # no row names it: it would be an orphan
            raise
        await self._discard(storage, previous)
        return registrant

    async def remove_photo(
        self, registrant_id: int, storage: Storage, actor: User | None = None
    ) -> WebinarRegistrant:
        """Clear the registrant's photo, then delete its file (no photo: nothing happens).

        A value that is not a storage name is cleared too, with no file deleted.
        """
        registrant = await WebinarRegistrant.objects.get_or_404(id=registrant_id)
        previous = registrant.photo
        if previous is None:
            return registrant
        before = snapshot(registrant)
        async with atomic():
            registrant.photo = None
            await registrant.save()
            await self.audit.changed(actor, registrant, before)
        await self._discard(storage, previous)
        return registrant

    @staticmethod
    async def _discard(storage: Storage, name: str | None) -> None:
        # The row is already right; a file left behind wastes space but breaks nothing, so a
        # storage outage is logged for the operator rather than failing the user's change.
        if name is None:
            return
        if not is_storage_name(name):
            # A bad value left in the row (it cannot be written any more): it names no file
            # of ours, and deleting "../../etc/passwd" is not something to try.
            logger.warning("Stored photo %r was not a storage name; no file deleted", name)
            return
        try:
            await storage.delete(name)
        except StorageError:
            logger.warning("Could not delete stored file %s; it is now unused", name, exc_info=True)
