"""The accounts service as a dependency: `service: AuthServiceDep` in a route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from fastmango.accounts.auth import StrategyDep, UserManagerDep
from fastmango.accounts.auth_service import AuthService


async def get_auth_service(
    request: Request, manager: UserManagerDep, strategy: StrategyDep
) -> AuthService:
    state = request.app.state
    return AuthService(manager, strategy, state.throttle, state.mailer)


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]
