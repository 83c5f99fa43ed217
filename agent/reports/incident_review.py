"""The Platinum incident review: one page per incident, from the store's records only.

Alerts sent and acknowledgements come from the alerting outbox and the alert acks of the
incident's service (alert ids `<Rule>/<service>` and `<Rule>/<service>/<check>`), kept when they
fall around the incident; without any the page says "sem alertas registados" rather than
leaving the section out, so a review never mistakes "none recorded" for "none sent".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from agent.catalog.model import Catalog, Service
from agent.indicators.quar_config import QuarConfig
from agent.records import Annotation, Incident
from agent.reports import render
from agent.reports.i18n import Formatter
from agent.store.base import Store, StoredResult
from agent.store.compaction import CONTEXT as COMPACTION_CONTEXT
from agent.store.errors import UnknownIncidentError
from agent.store.sql import SqlStore
from alerting.alert_store import Ack, acks_for, service_alert_ids
from alerting.notification import AlertStatus
from alerting.outbox import Outbox, OutboxItem, OutboxState

# probe results shown before the start and after the end: the span compaction keeps raw
AROUND = COMPACTION_CONTEXT
MAX_RESULTS = 400
REVIEW_FIELDS = ("cause", "impact", "action", "note", "false_alarm")


@dataclass(frozen=True, slots=True)
class AlertEntry:
    """One alert delivery or acknowledgement, as the alerting outbox records it."""

    at: datetime
    kind: str  # sent | resolved | failed | pending | acknowledged
    receiver: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    label: str  # an i18n key
    detail: str = ""


@dataclass(frozen=True)
class IncidentReview:
    incident: Incident
    service: Service | None  # None when no longer in the catalogue
    generated_at: datetime
    timezone: str
    quar: QuarConfig
    timeline: tuple[TimelineEntry, ...]
    results: tuple[StoredResult, ...]
    annotations: tuple[Annotation, ...]
    alerts: tuple[AlertEntry, ...]

    @property
    def review(self) -> dict[str, list[Annotation]]:
        """Annotations by review field, oldest first."""
        return {f: [a for a in self.annotations if a.field == f] for f in REVIEW_FIELDS}

    @property
    def within_meta(self) -> bool | None:
        restore = self.incident.restore_seconds
        return None if restore is None else restore / 60 <= self.quar.indicators["ind4"].target


def build_review(
    store: Store,
    catalog: Catalog,
    quar: QuarConfig,
    incident_id: int,
    now: datetime,
    timezone: str,
    alerts: Sequence[AlertEntry] | None = None,
) -> IncidentReview:
    """`alerts=None` reads them from the store's outbox and acks (a `SqlStore`; none otherwise)."""
    incident = store.incident(incident_id)
    if incident is None:
        raise UnknownIncidentError(f"incident {incident_id} does not exist")
    if alerts is None:
        alerts = alert_entries(store, incident, now) if isinstance(store, SqlStore) else ()
    annotations = tuple(store.annotations(incident_id))
    results = store.results(
        service=incident.service,
        start=incident.started_at - AROUND,
        end=(incident.ended_at or now) + AROUND,
        limit=MAX_RESULTS,
    )
    return IncidentReview(
        incident=incident,
        service=catalog.by_id.get(incident.service),
        generated_at=now,
        timezone=timezone,
        quar=quar,
        timeline=_timeline(incident, annotations, alerts),
        results=tuple(results),
        annotations=annotations,
        alerts=tuple(alerts),
    )


def alert_entries(store: SqlStore, incident: Incident, now: datetime) -> tuple[AlertEntry, ...]:
    """Deliveries and acknowledgements of the service's alerts around the incident, by time.

    A notification counts when its `starts_at` or `ends_at` falls within `AROUND` of the
    incident; an acknowledgement when it was made then. Each delivery is listed once per
    receiver: when it arrived, failed for good, or (still pending) when it was queued.
    """
    lo, hi = incident.started_at - AROUND, (incident.ended_at or now) + AROUND

    def around(at: datetime | None) -> bool:
        return at is not None and lo <= at <= hi

    outbox = Outbox(store)
    entries: list[AlertEntry] = []
    for alert_id in service_alert_ids(store, incident.service):
        for item in outbox.history(alert_id):
            n = item.notification
            if around(n.starts_at) or around(n.ends_at):
                entries.append(_delivery(item))
        entries += [_ack(a) for a in acks_for(store, alert_id) if around(a.created_at)]
    return tuple(sorted(entries, key=lambda e: e.at))


def _delivery(item: OutboxItem) -> AlertEntry:
    n = item.notification
    detail = " ".join(x for x in (n.alert_id, n.severity) if x)
    if item.state is OutboxState.DELIVERED and item.delivered_at is not None:
        kind = "resolved" if n.status is AlertStatus.RESOLVED else "sent"
        return AlertEntry(item.delivered_at, kind, item.receiver, detail)
    if item.state is OutboxState.FAILED:
        at = item.last_attempt_at or item.created_at
        return AlertEntry(at, "failed", item.receiver, f"{detail}: {item.last_error}")
    return AlertEntry(item.created_at, "pending", item.receiver, f"{detail} ({n.status})")


def _ack(ack: Ack) -> AlertEntry:
    detail = f"{ack.alert_id}: {ack.comment}" if ack.comment else ack.alert_id
    return AlertEntry(ack.created_at, "acknowledged", ack.author, detail)


def _timeline(
    incident: Incident, annotations: Sequence[Annotation], alerts: Sequence[AlertEntry]
) -> tuple[TimelineEntry, ...]:
    entries = [
        TimelineEntry(incident.started_at, "first_fail", incident.cause),
        TimelineEntry(incident.confirmed_at, "confirmed"),
    ]
    for fragment in incident.fragments[1:]:
        entries.append(TimelineEntry(fragment.started_at, "fragments"))
    entries += [TimelineEntry(a.at, "alerts", f"{a.kind}: {a.receiver} {a.detail}") for a in alerts]
    entries += [
        TimelineEntry(a.created_at, "annotation", f"{a.field} ({a.author}): {a.text}")
        for a in annotations
    ]
    if incident.ended_at is not None:
        entries.append(TimelineEntry(incident.ended_at, "first_ok"))
    return tuple(sorted(entries, key=lambda e: e.at))


def render_review(review: IncidentReview, lang: str) -> str:
    fmt = Formatter.of(lang, review.timezone)
    return render("incident.html.j2", r=review, f=fmt, lang=lang)


def write_review(review: IncidentReview, out: Path, lang: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"vigia-incidente-{review.incident.id}.html"
    path.write_text(render_review(review, lang), encoding="utf-8")
    return path
