"""Reading the audit trail (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from agent.api.context import Admin, agent_of, blocking, sql_store
from agent.operations import audit
from agent.operations.models import AuditOut, AuditPage

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=AuditPage)
async def audit_log(
    request: Request,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AuditPage:
    """Every write made through the API or the console, newest first."""
    total, rows = await blocking(
        audit.entries, sql_store(agent_of(request)), limit=limit, offset=offset
    )
    items = [AuditOut(**{k: getattr(r, k) for k in AuditOut.model_fields}) for r in rows]
    return AuditPage(items=items, total=total, offset=offset, limit=limit)
