"""The HTTP API under /api/v1: read the agent's state, act on it, audited, by role."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from agent.access.tokens import AuthError
from agent.api import (
    alerts,
    auditlog,
    catalog,
    cluster,
    heartbeat,
    incidents,
    indicators,
    locations,
    maintenance,
    probe,
    public_messages,
    reports,
    services,
)
from agent.api.errors import operation_error
from agent.api.problems import validation_error
from agent.operations.errors import OperationError

if TYPE_CHECKING:
    from agent.agent_view import AgentView

PREFIX = "/api/v1"
_AUTH = {401: {"description": "no or unknown token"}, 403: {"description": "role too low"}}


def api_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    readers = (
        services,
        incidents,
        alerts,
        maintenance,
        indicators,
        catalog,
        auditlog,
        reports,
        public_messages,
        cluster,
    )
    for module in readers:
        router.include_router(module.router, responses=_AUTH)  # type: ignore[arg-type]
    router.include_router(heartbeat.router)
    router.include_router(probe.router, responses=_AUTH)  # type: ignore[arg-type]
    router.include_router(locations.router, responses=_AUTH)  # type: ignore[arg-type]
    return router


def mount_api(app: FastAPI, agent: AgentView) -> None:
    app.state.vigia_agent = agent
    app.include_router(api_router())
    app.add_exception_handler(AuthError, _auth_error)  # type: ignore[arg-type]
    app.add_exception_handler(OperationError, operation_error)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _store_away)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]


async def _auth_error(request: Request, exc: AuthError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=headers)


STORE_RETRY_AFTER = "10"  # seconds: the writer retries a lost database on about this scale


async def _store_away(request: Request, exc: OperationalError) -> JSONResponse:
    """The database is away (down, unreachable, disk full): a transient 503, not a 500.
    The driver's message is not echoed: it may name the database's host or file."""
    return JSONResponse(
        {"detail": "the store is unavailable; retry later"},
        status_code=503,
        headers={"Retry-After": STORE_RETRY_AFTER},
    )
