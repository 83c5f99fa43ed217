"""The Platinum incident review: one page per incident, from the store's records only.

Alerts sent and acknowledgements are rendered from `alerts` when a caller has them (the
alerting outbox); without any the page says "sem alertas registados" rather than leaving the
section out, so a review never mistakes "none recorded" for "none sent".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from agent.catalog.model import Catalog, Service
from agent.quar_config import QuarConfig
from agent.records import Annotation, Incident
from agent.reports import render
from agent.reports.i18n import Formatter
from agent.store.base import Store, StoredResult
from agent.store.errors import UnknownIncidentError

AROUND = timedelta(minutes=30)  # probe results shown before the start and after the end
MAX_RESULTS = 400
REVIEW_FIELDS = ("cause", "impact", "action", "note", "false_alarm")


@dataclass(frozen=True, slots=True)
class AlertEntry:
    """One alert delivery or acknowledgement, as the alerting outbox records it."""

    at: datetime
    kind: str  # sent | acknowledged | resolved | failed
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
    alerts: Sequence[AlertEntry] = (),
) -> IncidentReview:
    incident = store.incident(incident_id)
    if incident is None:
        raise UnknownIncidentError(f"incident {incident_id} does not exist")
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
