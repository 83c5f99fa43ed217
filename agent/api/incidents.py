"""Incidents: listing with filters and pages, the review timeline, annotations."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request

from agent.access.tokens import Principal
from agent.api import audit
from agent.api.context import Operator, Viewer, agent_of, blocking, sql_store
from agent.api.models import (
    AlertOut,
    AnnotationIn,
    AnnotationOut,
    BoundedDatetime,
    IncidentDetail,
    IncidentPage,
    TimelineEntry,
)
from agent.api.views import alerts, incident_out
from agent.records import Annotation, Incident
from agent.store.errors import UnknownIncidentError
from agent.store.sql import SqlStore

if TYPE_CHECKING:
    from agent.agent_view import AgentView

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
    agent = agent_of(request)
    detail = await blocking(incident_detail, sql_store(agent), incident_id, agent.clock.now())
    if detail is None:
        raise HTTPException(404, f"incident {incident_id} does not exist")
    service = agent.catalog.by_id.get(detail.service)
    return detail.model_copy(update={"service_name": service.name if service else None})


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


async def add_annotation(
    agent: AgentView, who: Principal, incident_id: int, body: AnnotationIn
) -> AnnotationOut:
    store, at = sql_store(agent), agent.clock.now()
    try:
        note = await blocking(store.annotate, incident_id, body.field, body.text, who.name, at)
    except UnknownIncidentError:
        raise HTTPException(404, f"incident {incident_id} does not exist") from None
    detail = {"field": body.field, "text": body.text}
    target = f"incident/{incident_id}"
    await blocking(audit.record, store, who, "incident.annotate", target, detail, at)
    return annotation_out(note)


def annotation_out(note: Annotation) -> AnnotationOut:
    return AnnotationOut(
        id=note.id,
        incident=note.incident,
        field=note.field,
        text=note.text,
        author=note.author,
        created_at=note.created_at,
    )


def incident_detail(store: SqlStore, incident_id: int, now: datetime) -> IncidentDetail | None:
    """Blocking: the incident, its annotations, its service's alerts and the timeline."""
    incident = store.incident(incident_id)
    if incident is None:
        return None
    notes = store.annotations(incident_id)
    related = [a for a in alerts(store, incident.service) if a.incident_id in (None, incident_id)]
    end = incident.ended_at or now
    steps = store.transitions(incident.service, incident.started_at, end + timedelta(seconds=1))
    states = [(t.at, t.state.value) for t in steps if t.at >= incident.started_at]
    return IncidentDetail(
        **incident_out(incident).model_dump(),
        service_name=None,
        annotations=[annotation_out(n) for n in notes],
        alerts=related,
        timeline=timeline(incident, notes, related, states),
    )


def timeline(
    incident: Incident,
    notes: list[Annotation],
    related: list[AlertOut],
    states: list[tuple[datetime, str]],
) -> list[TimelineEntry]:
    entries = [TimelineEntry(at=incident.started_at, kind="started", text=incident.cause)]
    entries.append(TimelineEntry(at=incident.confirmed_at, kind="confirmed", text="down"))
    for fragment in incident.fragments[1:]:
        entries.append(TimelineEntry(at=fragment.started_at, kind="fragment", text="down again"))
    for fragment in incident.fragments[:-1]:
        if fragment.ended_at is not None:
            entries.append(TimelineEntry(at=fragment.ended_at, kind="fragment_end", text="up"))
    entries += [TimelineEntry(at=at, kind="state", text=state) for at, state in states]
    entries += [
        TimelineEntry(
            at=n.created_at, kind="annotation", text=f"{n.field}: {n.text}", author=n.author
        )
        for n in notes
    ]
    for alert in related:
        if alert.firing_since is not None:
            entries.append(TimelineEntry(at=alert.firing_since, kind="alert", text=alert.alert_id))
        entries += [
            TimelineEntry(
                at=k.created_at, kind="ack", text=k.comment or alert.alert_id, author=k.author
            )
            for k in alert.acks
        ]
    if incident.ended_at is not None:
        minutes = (incident.restore_seconds or 0.0) / 60
        entries.append(TimelineEntry(at=incident.ended_at, kind="ended", text=f"{minutes:.1f} min"))
    entries.sort(key=lambda e: e.at)
    return entries
