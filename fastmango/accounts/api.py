"""API authentication: bearer tokens for clients, revocable, and who am I."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from fastmango.accounts.auth import CurrentUser, request_token, user_permissions
from fastmango.accounts.deps import AuthServiceDep
from fastmango.accounts.routes import client_ip
from fastmango.accounts.throttle import Throttled
from fastmango.errors import NotAuthenticated, ValidationError

router = APIRouter(prefix="/api/v1", tags=["auth"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed credentials"},
    401: {"description": "Wrong email or password, or no valid token"},
    429: {"description": "Too many failed attempts; see Retry-After"},
}


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1000)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105


class UserMe(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    is_active: bool
    is_verified: bool
    is_staff: bool
    is_superuser: bool
    permissions: list[str]


async def _credentials(request: Request) -> Credentials:
    """OAuth2 password form (`username`, `password`) or JSON (`email`, `password`)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            return Credentials.model_validate_json(await request.body())
        except ValueError:
            raise ValidationError("Send JSON with email and password.") from None
    form = await request.form()
    username, password = form.get("username") or form.get("email"), form.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ValidationError("Send username (your email) and password.")
    try:
        return Credentials(email=username, password=password)
    except ValueError:
        raise ValidationError("Send username (your email) and password.") from None


@router.post(
    "/auth/token",
    response_model=Token,
    responses=ERRORS,
    summary="Exchange email and password for a bearer token",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "username": {"type": "string", "minLength": 1, "maxLength": 320},
                            "password": {"type": "string", "minLength": 1, "maxLength": 1000},
                        },
                        "required": ["username", "password"],
                    }
                },
                "application/json": {"schema": Credentials.model_json_schema()},
            },
            "required": True,
        }
    },
)
async def create_token(request: Request, service: AuthServiceDep) -> Response:
    credentials = await _credentials(request)
    try:
        _user, token = await service.login(
            credentials.email, credentials.password, client_ip(request), request
        )
    except Throttled as exc:
        return JSONResponse(
            {"detail": "Too many failed attempts.", "code": "throttled"},
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    return JSONResponse(Token(access_token=token).model_dump())


@router.post(
    "/auth/logout",
    status_code=204,
    responses={401: ERRORS[401]},
    summary="Revoke the bearer token of this request",
)
async def delete_token(request: Request, user: CurrentUser, service: AuthServiceDep) -> Response:
    token, kind = request_token(request)
    if token is None or kind != "bearer":
        raise NotAuthenticated("Send the token to revoke as Authorization: Bearer.")
    await service.logout(token, user, request)
    return Response(status_code=204)


@router.get("/users/me", response_model=UserMe, responses={401: ERRORS[401]})
async def read_me(user: CurrentUser) -> UserMe:
    fields = user.model_dump(include=set(UserMe.model_fields) - {"permissions"})
    return UserMe(**fields, permissions=sorted(user_permissions(user)))
