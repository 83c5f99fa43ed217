"""Incidents: listing with filters and pages, the review timeline, annotations."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from agent.api.context import Operator, Viewer, agent_of, blocking, sql_store
from agent.operations.incidents import add_annotation, incident_detail
from agent.operations.models import (
    AnnotationIn,
    AnnotationOut,
    BoundedDatetime,
    IncidentDetail,
    IncidentPage,
)
from agent.operations.views import incident_out

router = APIRouter(tags=["incidents"])
IncidentId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/incidents", response_model=IncidentPage)
async def list_incidents(
    request: Request,
    _: Viewer,
    service: str | None = None,
    tier: str | None = None,
    status: Literal["open", "closed", "all"] = "all",
    start: Annotated[BoundedDatetime | None, Query(alias="from")] = None,
    end: Annotated[BoundedDatetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> IncidentPage:
    """Incidents overlapping [from, to), newest first."""
    store = sql_store(agent_of(request))
    found = await blocking(
        store.incidents, service=service, start=start, end=end, open_only=status == "open"
    )
    chosen = [i for i in found if tier in (None, i.tier) and (status != "closed" or not i.is_open)]
    chosen.reverse()
    page = chosen[offset : offset + limit]
    return IncidentPage(
        items=[incident_out(i) for i in page], total=len(chosen), offset=offset, limit=limit
    )


@router.get("/incidents/{incident_id}", response_model=IncidentDetail, responses={404: {}})
async def get_incident(request: Request, _: Viewer, incident_id: IncidentId) -> IncidentDetail:
    """One incident with its review timeline: fragments, state changes, notes, alerts."""
    return await incident_detail(agent_of(request), incident_id)


@router.post(
    "/incidents/{incident_id}/annotations",
    response_model=AnnotationOut,
    status_code=201,
    responses={404: {}},
)
async def annotate(
    request: Request, who: Operator, incident_id: IncidentId, body: AnnotationIn
) -> AnnotationOut:
    """Add a cause, impact, action, note or false-alarm declaration (never edits the record)."""
    return await add_annotation(agent_of(request), who, incident_id, body)
