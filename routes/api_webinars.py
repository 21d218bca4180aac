"""JSON API for webinars: listing, details, public registration, staff views of registrants."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from deps import IdPath
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
from models import RegistrantStatus
from schemas import (
    NO_NUL,
    RegistrantCreate,
    RegistrantPublic,
    RegistrantStaff,
    RegistrantUpdate,
    WebinarSummary,
)
from services import WebinarService
from services.webinar_service import REGISTRANT_ORDERABLE

router = APIRouter(prefix="/api/v1", tags=["webinars"])
webinars = WebinarService()

CanViewRegistrants = Annotated[User, Depends(require_perm("webinarregistrant.view"))]
CanChangeRegistrants = Annotated[User, Depends(require_perm("webinarregistrant.change"))]
Page = Annotated[int, Query(ge=1, le=1_000_000)]
PerPage = Annotated[int, Query(ge=1, le=100)]


@router.get(
    "/webinars",
    response_model=Paged[WebinarSummary],
    responses=cached_get(400, 422),
    dependencies=[Depends(strict_query(("page", "per_page", "include_past")))],
    summary="Upcoming webinars (or all with include_past=true), with registrant counts",
)
async def list_webinars(
    request: Request, page: Page = 1, per_page: PerPage = 20, include_past: bool = False
) -> Response:
    result = await webinars.upcoming(page=page, per_page=per_page, include_past=include_past)
    payload = Paged[WebinarSummary].of(result, result.items)
    return etag_json(request, payload)


@router.get(
    "/webinars/{webinar_id}", response_model=WebinarSummary, responses=cached_get(400, 404, 422)
)
async def read_webinar(request: Request, webinar_id: IdPath) -> Response:
    return etag_json(request, await webinars.summary(webinar_id))


@router.get(
    "/webinars/{webinar_id}/registrants",
    response_model=Paged[RegistrantStaff],
    responses=cached_get(400, 401, 403, 404, 422),
    dependencies=[Depends(strict_query(("q", "status", "ordering", "page", "per_page")))],
)
async def list_registrants(
    request: Request,
    webinar_id: IdPath,
    user: CanViewRegistrants,
    q: Annotated[str | None, Query(max_length=200, json_schema_extra={"pattern": NO_NUL})] = None,
    status: RegistrantStatus | None = None,
    ordering: Annotated[
        str | None, Query(json_schema_extra={"pattern": ordering_pattern(REGISTRANT_ORDERABLE)})
    ] = None,
    page: Page = 1,
    per_page: PerPage = 20,
) -> Response:
    result = await webinars.find_registrants(
        webinar_id, q=q, status=status, ordering=ordering, page=page, per_page=per_page
    )
    payload = Paged[RegistrantStaff].of(
        result, [RegistrantStaff.model_validate(r) for r in result.items]
    )
    return etag_json(request, payload)


@router.post(
    "/webinars/{webinar_id}/register",
    status_code=201,
    response_model=RegistrantPublic,
    responses=errors(400, 404, 409, 413, 422),
    summary="Register for a webinar (public); the same email twice is a 409",
)
async def create_registration(webinar_id: IdPath, data: RegistrantCreate) -> Response:
    registrant = await webinars.register(webinar_id, data)
    return json_created(RegistrantPublic.model_validate(registrant))


@router.patch(
    "/registrants/{registrant_id}",
    response_model=RegistrantStaff,
    responses=errors(400, 401, 403, 404, 413, 422),
)
async def update_registrant(
    registrant_id: IdPath, data: RegistrantUpdate, user: CanChangeRegistrants
) -> RegistrantStaff:
    registrant = await webinars.update_registrant(registrant_id, data, actor=user)
    return RegistrantStaff.model_validate(registrant)
