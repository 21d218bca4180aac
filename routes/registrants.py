"""Staff pages for a webinar's registrants: a searchable card grid, inline edits, photos, CSV."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError as PydanticValidationError
from starlette.datastructures import UploadFile

from deps import IdPath, SettingsDep, StorageDep, TemplatesDep
from fastmango.accounts.auth import get_optional_user, require_perm
from fastmango.accounts.models import User
from fastmango.errors import PayloadTooLarge, ValidationError
from fastmango.storage import Storage
from fastmango.web.flash import flash
from fastmango.web.forms import field_errors, query_string
from fastmango.web.templating import render_page, wants_partial
from models import RegistrantStatus, WebinarRegistrant
from schemas import RegistrantUpdate
from services import WebinarService
from services.export import csv_rows

router = APIRouter(
    tags=["registrants"],
    default_response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[Depends(get_optional_user)],
)
webinars = WebinarService()
CanView = Annotated[User, Depends(require_perm("webinarregistrant.view"))]
CanChange = Annotated[User, Depends(require_perm("webinarregistrant.change"))]
# The filter's "Every status" option sends `status=` (empty): no filter, not a 400.
StatusQuery = Annotated[RegistrantStatus | Literal[""] | None, Query()]
Search = Annotated[str | None, Query(max_length=200)]
REGISTRANT_COLUMNS = ("id", "name", "email", "company", "status", "notes", "registered_at")


@dataclass(frozen=True)
class _Card:
    templates: Jinja2Templates
    storage: Storage

    def render(
        self,
        request: Request,
        registrant: WebinarRegistrant,
        *,
        errors: dict[str, str] | None = None,
        saved: str = "",
        status: int = 200,
    ) -> Response:
        context = {
            "r": registrant,
            "errors": errors or {},
            "saved": saved,
            "statuses": list(RegistrantStatus),
            "photo_url": self.storage.link,  # None for no (or a bad) photo
            "can_change": True,  # only the change routes render a single card
        }
        response: Response = self.templates.TemplateResponse(
            request, "registrants/_card.html", context, status_code=status
        )
        return response


async def _card_context(templates: TemplatesDep, storage: StorageDep) -> _Card:
    return _Card(templates, storage)


CardContext = Annotated[_Card, Depends(_card_context)]


@router.get("/webinars/{webinar_id}/registrants", name="registrant_list")
async def list_registrants(
    request: Request,
    webinar_id: IdPath,
    templates: TemplatesDep,
    storage: StorageDep,
    user: CanView,
    q: Search = None,
    status: StatusQuery = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    status = status or None
    webinar = await webinars.summary(webinar_id)
    result = await webinars.find_registrants(webinar_id, q=q, status=status, page=page)
    params: dict[str, Any] = {"q": q, "status": status.value if status else None}

    def url(**changes: Any) -> str:
        return query_string(params, **changes)

    context = {
        "webinar": webinar,
        "page": result,
        "q": q or "",
        "status": status.value if status else "",
        "statuses": list(RegistrantStatus),
        "url": url,
        "photo_url": storage.link,
        "can_change": user.has_perm("webinarregistrant.change"),
        "errors": {},
        "saved": "",
    }
    return render_page(
        templates, request, "registrants/list.html", "registrants/_grid.html", context
    )


@router.get("/webinars/{webinar_id}/registrants.csv", name="registrant_export")
async def export_registrants(
    webinar_id: IdPath, user: CanView, q: Search = None, status: StatusQuery = None
) -> StreamingResponse:
    webinar = await webinars.get(webinar_id)
    rows = webinars.registrants(webinar_id, q=q, status=status or None)
    filename = f"webinar-{webinar.id}-registrants.csv"
    return StreamingResponse(
        csv_rows(rows, REGISTRANT_COLUMNS),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/registrants/{registrant_id}/status", name="registrant_status")
async def update_status(
    request: Request, registrant_id: IdPath, ctx: CardContext, user: CanChange
) -> Response:
    value = (await request.form()).get("status")
    if value not in set(RegistrantStatus):
        return await _refused(request, ctx, registrant_id, {"status": "Choose a status."})
    data = RegistrantUpdate(status=RegistrantStatus(str(value)))
    registrant = await webinars.update_registrant(registrant_id, data, actor=user)
    return _saved(request, ctx, registrant, "Status saved.")


@router.post("/registrants/{registrant_id}/notes", name="registrant_notes")
async def update_notes(
    request: Request, registrant_id: IdPath, ctx: CardContext, user: CanChange
) -> Response:
    value = (await request.form()).get("notes")
    # Browsers send CRLF in a textarea; keep what was typed, with plain newlines.
    notes = value.replace("\r\n", "\n") if isinstance(value, str) else ""
    try:
        data = RegistrantUpdate(notes=notes)
    except PydanticValidationError as exc:
        return await _refused(request, ctx, registrant_id, field_errors(exc))
    registrant = await webinars.update_registrant(registrant_id, data, actor=user)
    return _saved(request, ctx, registrant, "Notes saved.")


@router.post("/registrants/{registrant_id}/photo", name="registrant_photo")
async def upload_photo(
    request: Request,
    registrant_id: IdPath,
    ctx: CardContext,
    settings: SettingsDep,
    user: CanChange,
) -> Response:
    upload = (await request.form()).get("photo")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _refused(request, ctx, registrant_id, {"photo": "Choose an image file."})
    # One byte over the limit is enough to tell "too large" without buffering more.
    try:
        data = await upload.read(settings.max_upload_size + 1)
    finally:
        await upload.close()
    try:
        registrant = await webinars.set_photo(
            registrant_id, data, ctx.storage, max_bytes=settings.max_upload_size, actor=user
        )
    except (ValidationError, PayloadTooLarge) as exc:
        status = exc.status_code if isinstance(exc, PayloadTooLarge) else 422
        return await _refused(request, ctx, registrant_id, {"photo": exc.detail}, status)
    return _saved(request, ctx, registrant, "Photo saved.")


@router.post("/registrants/{registrant_id}/photo/delete", name="registrant_photo_delete")
async def delete_photo(
    request: Request, registrant_id: IdPath, ctx: CardContext, user: CanChange
) -> Response:
    registrant = await webinars.remove_photo(registrant_id, ctx.storage, actor=user)
    return _saved(request, ctx, registrant, "Photo removed.")


async def _refused(
    request: Request, ctx: _Card, registrant_id: int, errors: dict[str, str], status: int = 422
) -> Response:
    """The card again with the error next to the field (htmx), or back to the grid with it."""
    registrant = await webinars.get_registrant(registrant_id)
    if wants_partial(request):
        return ctx.render(request, registrant, errors=errors, status=status)
    flash(request, "error", f"{registrant.name}: {next(iter(errors.values()))}")
    return _back(request, registrant)


def _saved(request: Request, ctx: _Card, registrant: WebinarRegistrant, message: str) -> Response:
    if wants_partial(request):
        return ctx.render(request, registrant, saved=message)
    flash(request, "success", f"{registrant.name}: {message}")
    return _back(request, registrant)


def _back(request: Request, registrant: WebinarRegistrant) -> RedirectResponse:
    url = request.url_for("registrant_list", webinar_id=registrant.webinar_id)
    return RedirectResponse(f"{url}#registrant-{registrant.id}", status_code=303)
