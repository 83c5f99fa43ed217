"""Incidents: one incident with its review timeline, and annotating one (audited)."""

from __future__ import annotations

from datetime import datetime, timedelta

from agent.access.tokens import Principal
from agent.agent_view import AgentView
from agent.operations import audit
from agent.operations.errors import NotFound
from agent.operations.models import (
    AlertOut,
    AnnotationIn,
    AnnotationOut,
    IncidentDetail,
    TimelineEntry,
)
from agent.operations.reading import blocking, sql_store
from agent.operations.views import alerts, incident_out
from agent.records import Annotation, Incident
from agent.store.errors import UnknownIncidentError
from agent.store.sql import SqlStore


async def incident_detail(
    agent: AgentView, incident_id: int, now: datetime | None = None
) -> IncidentDetail:
    """The incident as of `now` (the clock's by default) with its service's name; NotFound."""
    at = now if now is not None else agent.clock.now()
    detail = await blocking(stored_detail, sql_store(agent), incident_id, at)
    if detail is None:
        raise NotFound(f"incident {incident_id} does not exist")
    service = agent.catalog.by_id.get(detail.service)
    return detail.model_copy(update={"service_name": service.name if service else None})


async def add_annotation(
    agent: AgentView, who: Principal, incident_id: int, body: AnnotationIn
) -> AnnotationOut:
    """A cause, impact, action, note or false alarm, never an edit; NotFound for no incident."""
    store, at = sql_store(agent), agent.clock.now()
    try:
        note = await blocking(store.annotate, incident_id, body.field, body.text, who.name, at)
    except UnknownIncidentError:
        raise NotFound(f"incident {incident_id} does not exist") from None
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


def stored_detail(store: SqlStore, incident_id: int, now: datetime) -> IncidentDetail | None:
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
