"""One writer batch of engine effects, grouped by the table(s) each kind writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from agent.records import (
    CheckStatus,
    CheckStatusSaved,
    Effect,
    FlappingChanged,
    Incident,
    IncidentSaved,
    LocationState,
    LocationStateSaved,
    PendingConsumed,
    ResultPending,
    ResultRecorded,
    ResultsDropped,
    ServiceStatus,
    ServiceStatusSaved,
    TimelineRewritten,
    UnknownRecorded,
)


@dataclass
class EffectBatch:
    """Effects grouped by table. Each effect kind writes its own table(s), so grouping keeps
    the outcome of applying them one by one: order is kept within a kind, and for keyed
    upserts (statuses, incidents) the last effect of a key wins, as it would in sequence;
    the timeline rewrites of one service fold into one that leaves the same rows."""

    results: dict[tuple[str, str, datetime], ResultRecorded] = field(default_factory=dict)
    timelines: dict[str, TimelineRewritten] = field(default_factory=dict)  # folded per service
    unknowns: list[UnknownRecorded] = field(default_factory=list)
    incidents: dict[int, Incident] = field(default_factory=dict)
    checks: dict[str, CheckStatus] = field(default_factory=dict)
    services: dict[str, ServiceStatus] = field(default_factory=dict)
    locations: dict[tuple[str, str], LocationState] = field(default_factory=dict)
    dropped: list[ResultsDropped] = field(default_factory=list)
    flapping: list[FlappingChanged] = field(default_factory=list)
    pending: list[ResultPending] = field(default_factory=list)  # several core nodes only
    consumed: list[int] = field(default_factory=list)

    def add(self, effect: Effect) -> None:
        match effect:
            case ResultRecorded(result=r, location=location):
                # First wins, like ON CONFLICT DO NOTHING against rows already stored.
                self.results.setdefault((r.check, location, r.started_at), effect)
            case TimelineRewritten(service=service):
                self.timelines[service] = fold(self.timelines.get(service), effect)
            case UnknownRecorded():
                self.unknowns.append(effect)
            case IncidentSaved(incident=incident):
                self.incidents[incident.id] = incident
            case CheckStatusSaved(status=status):
                self.checks[status.check] = status
            case ServiceStatusSaved(status=status):
                self.services[status.service] = status
            case LocationStateSaved(state=state):
                self.locations[(state.check, state.location)] = state
            case ResultsDropped():
                self.dropped.append(effect)
            case FlappingChanged():
                self.flapping.append(effect)
            case ResultPending():
                self.pending.append(effect)
            case PendingConsumed(ids=ids):
                self.consumed.extend(ids)


def fold(earlier: TimelineRewritten | None, later: TimelineRewritten) -> TimelineRewritten:
    """One rewrite leaving the rows that applying `earlier` then `later` leaves."""
    if earlier is None:
        return later
    kept = tuple(step for step in earlier.steps if step.at < later.since)
    since = min(earlier.since, later.since)
    return TimelineRewritten(later.service, since, kept + later.steps)
