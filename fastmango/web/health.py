"""Liveness and readiness probes for load balancers and platforms."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from fastmango.web.deps import DatabaseDep

router = APIRouter(prefix="/health", tags=["health"])
logger = logging.getLogger("fastmango.health")
READY_TIMEOUT_SECONDS = 3.0


@router.get("", summary="Liveness: the process answers (no database call)")
async def read_health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: the database answers",
    responses={503: {"description": "The database is unreachable"}},
)
async def read_ready(database: DatabaseDep) -> JSONResponse:
    try:
        await asyncio.wait_for(database.ping(), timeout=READY_TIMEOUT_SECONDS)
    except TimeoutError:
        reason = "database timed out"
    except (SQLAlchemyError, OSError) as exc:
        # The class name only: messages can carry host names or URLs.
        logger.warning("readiness check failed: %s", type(exc).__name__)
        reason = "database unreachable"
    else:
        return JSONResponse({"status": "ok", "database": "ok"})
    return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
