"""Webinar pages: upcoming sessions with registrant counts, details, public registration."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from deps import IdPath, TemplatesDep
from fastmango.accounts.auth import get_optional_user
from fastmango.errors import Conflict
from fastmango.web.flash import flash
from fastmango.web.forms import read_form, validate
from fastmango.web.templating import render_page
from schemas import RegistrantCreate
from services import WebinarService

router = APIRouter(
    prefix="/webinars",
    tags=["webinars"],
    default_response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[Depends(get_optional_user)],
)
webinars = WebinarService()
FORM_FIELDS = ("name", "email", "company")


@router.get("", name="webinar_list")
async def list_webinars(
    request: Request,
    templates: TemplatesDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    result = await webinars.upcoming(page=page, per_page=12)
    return templates.TemplateResponse(request, "webinars/list.html", {"page": result})


@router.get("/{webinar_id}", name="webinar_detail")
async def read_webinar(request: Request, webinar_id: IdPath, templates: TemplatesDep) -> Response:
    summary = await webinars.summary(webinar_id)
    context = {"webinar": summary, "values": {}, "errors": {}}
    return templates.TemplateResponse(request, "webinars/detail.html", context)


@router.get("/{webinar_id}/register", name="webinar_register")
async def read_register(request: Request, webinar_id: IdPath, templates: TemplatesDep) -> Response:
    # The form lives on the detail page; this URL is where it posts and where a link lands.
    return await read_webinar(request, webinar_id, templates)


@router.post("/{webinar_id}/register")
async def create_registration(
    request: Request, webinar_id: IdPath, templates: TemplatesDep
) -> Response:
    summary = await webinars.summary(webinar_id)
    values: dict[str, Any] = await read_form(request, FORM_FIELDS)
    data, errors = validate(RegistrantCreate, values)
    conflict = False
    if data is not None:
        try:
            registrant = await webinars.register(webinar_id, data)
        except Conflict as exc:
            # Already registered (or closed): said next to the form, the input kept.
            field = "email" if "already registered" in exc.detail else "__all__"
            errors, conflict = {field: exc.detail}, True
        else:
            text = f"You are registered for “{summary.title}”. See you there, {registrant.name}!"
            if request.headers.get("HX-Request") == "true":
                done = {"webinar": summary, "registered": registrant}
                return templates.TemplateResponse(request, "webinars/_registered.html", done)
            flash(request, "success", text)
            return RedirectResponse(request.url_for("webinar_detail", webinar_id=webinar_id), 303)
    context: dict[str, Any] = {"webinar": summary, "values": values, "errors": errors}
    status = 409 if conflict else 422
    return render_page(
        templates, request, "webinars/detail.html", "webinars/_register_form.html", context, status
    )
