"""The one place the shared operations' domain errors become HTTP answers.

The body is FastAPI's own for an `HTTPException` (`{"detail": message}`), so a client sees
the same answer as when each route raised its status itself.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from agent.operations.errors import Conflict, Invalid, NotFound, OperationError

STATUS: dict[type[OperationError], int] = {
    NotFound: 404,
    Conflict: 409,
    Invalid: 422,
}


def status_of(exc: OperationError) -> int:
    """The status of the error's class, or of the nearest class it derives from."""
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400  # a refusal named by no class above: the request, not the agent, is at fault


async def operation_error(request: Request, exc: OperationError) -> JSONResponse:
    return JSONResponse({"detail": exc.message}, status_code=status_of(exc))
