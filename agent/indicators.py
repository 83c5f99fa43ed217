"""The raw indicator figures of a period (semantics.md §6-§7): per service, Ind.3, Ind.4, coverage.

Reads the store, the catalogue and the maintenance calendar. QUAR grading (agent.quar) is
applied on top, in `to_json` when a `QuarConfig` is given; the figures themselves do not
depend on it.

Time inside the period but after `now` has not happened yet: it is unknown, like any time the
agent did not observe, so a report on the current month shows it in the unknown column and the
availability covers only what has been observed so far.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from agent.availability import ServiceTime, known_until
from agent.catalog.model import Catalog, Service
from agent.maintenance import MaintenanceCalendar
from agent.periods import Period
from agent.quar import Assessment, GradedIndicator, assess
from agent.quar_config import QuarConfig
from agent.records import Incident, ServiceStatus, Transition
from agent.store.base import Store
from agent.timeline import PlannedWindows, Timeline

_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    """One catalogue service over the period. Seconds add up to the period (semantics §6).

    An unmonitored service is not observed, so its whole period is unknown and it has no
    availability (semantics §4); it is listed so reports can show it as such.
    """

    id: str
    name: str
    tier: str
    macro_service: str
    pcn: bool
    monitored: bool
    availability: float | None  # percent; None = N/A
    up_seconds: float
    degraded_seconds: float  # part of up_seconds
    down_seconds: float
    maintenance_seconds: float
    unknown_seconds: float
    incidents: int  # incidents overlapping the period
    longest_incident_seconds: float  # clipped to the period (and to now while open)


@dataclass(frozen=True, slots=True)
class Ind3:
    """Mean availability (percent) of the monitored services with a known availability."""

    value: float | None  # None when no service has a known availability
    count: int
    na_services: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OpenIncident:
    """A platina + pcn incident not closed by the period's end (listed apart from Ind.4)."""

    id: int
    service: str
    started_at: datetime
    ended_at: datetime | None  # set when it closed after the period's end


@dataclass(frozen=True, slots=True)
class Ind4:
    """Restoration time, in minutes, of the closed platina + pcn incidents that ended in P."""

    value: float | None  # mean; None when no such incident
    median: float | None
    p90: float | None  # nearest-rank 90th percentile
    count: int
    open: tuple[OpenIncident, ...]


@dataclass(frozen=True, slots=True)
class Coverage:
    value: float | None  # percent; None for an empty catalogue
    covered: int
    total: int
    not_covered: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Indicators:
    period: Period
    services: tuple[ServiceFigures, ...]
    ind3: Ind3
    ind4: Ind4
    coverage: Coverage
    # by service id, monitored services only; not part of equality or the JSON
    timelines: dict[str, Timeline] = field(default_factory=dict, compare=False, repr=False)
    # every incident read for the period (also one that ended exactly at its start)
    incidents: tuple[Incident, ...] = field(default=(), compare=False, repr=False)

    @property
    def has_data(self) -> bool:
        """Some service has observed time: otherwise every figure is N/A."""
        return any(f.availability is not None for f in self.services)

    def values(self) -> dict[str, float | None]:
        """The results QUAR grades, by indicator key."""
        return {"ind3": self.ind3.value, "ind4": self.ind4.value, "coverage": self.coverage.value}


class TimelineSource(Protocol):
    """The two Store reads a timeline needs; a report may pass a prefetching stand-in."""

    def transitions(self, service: str, start: datetime, end: datetime) -> list[Transition]: ...

    def unknown_intervals(
        self, service: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]: ...


def compute_indicators(
    store: Store,
    catalog: Catalog,
    calendar: MaintenanceCalendar,
    period: Period,
    now: datetime,
    source: TimelineSource | None = None,
    statuses: dict[str, ServiceStatus] | None = None,
) -> Indicators:
    """Every raw figure of `period`, as known at `now` (later time in the period is unknown).

    `source` answers the per-service timeline reads instead of `store` (same results);
    `statuses` are the stored service statuses when the caller has read them already."""
    # The store returns incidents overlapping [start, end), which leaves out one that ended
    # exactly at `start`; Ind.4 counts it (ended_at in [start, end)), so ask from just before.
    incidents = store.incidents(start=period.start - _MICROSECOND, end=period.end)
    by_service: dict[str, list[Incident]] = defaultdict(list)
    for incident in incidents:
        if incident.ended_at is None or incident.ended_at > period.start:
            by_service[incident.service].append(incident)
    if statuses is None:
        statuses = store.service_statuses()
    reading = _Reading(source or store, PlannedWindows(calendar), period, now, statuses)
    timelines = reading.timelines(catalog)
    figures = tuple(
        reading.figures(service, timelines[service.id], by_service[service.id])
        if service.monitored
        else _unmonitored(service, period)
        for service in catalog.services
    )
    return Indicators(
        period=period,
        services=figures,
        ind3=_ind3(figures),
        ind4=_ind4(incidents, period),
        coverage=_coverage(catalog, store.services_observed(period.start, period.end)),
        timelines=timelines,
        incidents=tuple(incidents),
    )


def read_timelines(
    source: TimelineSource,
    catalog: Catalog,
    calendar: MaintenanceCalendar,
    period: Period,
    now: datetime,
    statuses: dict[str, ServiceStatus],
) -> dict[str, Timeline]:
    """Every monitored service's timeline over `period`, as `compute_indicators` reads it,
    without the figures (for callers that only slice the timelines, e.g. rolling windows)."""
    return _Reading(source, PlannedWindows(calendar), period, now, statuses).timelines(catalog)


@dataclass(frozen=True, slots=True)
class _Reading:
    """What every service's figures are read against."""

    store: TimelineSource
    calendar: PlannedWindows
    period: Period
    now: datetime
    statuses: dict[str, ServiceStatus]

    def figures(
        self, service: Service, timeline: Timeline, incidents: Sequence[Incident]
    ) -> ServiceFigures:
        time = timeline.time(self.period.start, self.period.end)
        availability = time.availability
        return _make(
            service,
            time,
            None if availability is None else availability * 100,
            incidents=len(incidents),
            longest=max((_clipped(i, self.period, self.now) for i in incidents), default=0.0),
        )

    def timelines(self, catalog: Catalog) -> dict[str, Timeline]:
        return {s.id: self.timeline(s) for s in catalog.services if s.monitored}

    def timeline(self, service: Service) -> Timeline:
        start, end = self.period.start, self.period.end
        seen_until = min(end, self.now)
        if seen_until <= start:  # the period has not started yet: nothing to read
            return Timeline((), (), (), None)
        transitions = self.store.transitions(service.id, start, seen_until)
        unknown = self.store.unknown_intervals(service.id, start, seen_until)
        # Maintenance outranks unknown, so windows still to come are cut at now: time that has
        # not happened yet is unknown, whatever is planned for it.
        planned = [
            (a, min(b, seen_until)) for a, b in self.calendar.planned(service.id, start, seen_until)
        ]
        status = self.statuses.get(service.id)
        # Never seen: the timeline alone decides up to now. After now nothing is known yet.
        cap = known_until(status, service.silence_threshold, self.now) or self.now
        steps = tuple(sorted(transitions, key=lambda t: t.at))  # stable: equal times keep order
        return Timeline(steps, tuple(unknown), tuple(planned), min(cap, self.now))


def _unmonitored(service: Service, period: Period) -> ServiceFigures:
    time = ServiceTime(up=0.0, degraded=0.0, down=0.0, maintenance=0.0, unknown=period.seconds)
    return _make(service, time, None, incidents=0, longest=0.0)


def _make(
    service: Service,
    time: ServiceTime,
    availability: float | None,
    *,
    incidents: int,
    longest: float,
) -> ServiceFigures:
    return ServiceFigures(
        id=service.id,
        name=service.name,
        tier=service.tier,
        macro_service=service.macro_service,
        pcn=service.pcn,
        monitored=service.monitored,
        availability=availability,
        up_seconds=time.up,
        degraded_seconds=time.degraded,
        down_seconds=time.down,
        maintenance_seconds=time.maintenance,
        unknown_seconds=time.unknown,
        incidents=incidents,
        longest_incident_seconds=longest,
    )


def _clipped(incident: Incident, period: Period, now: datetime) -> float:
    finish = min(incident.ended_at or now, period.end, now)
    return max(0.0, (finish - max(incident.started_at, period.start)).total_seconds())


def _ind3(figures: Sequence[ServiceFigures]) -> Ind3:
    monitored = [f for f in figures if f.monitored]
    known = [f.availability for f in monitored if f.availability is not None]
    na = tuple(f.id for f in monitored if f.availability is None)
    return Ind3(value=statistics.fmean(known) if known else None, count=len(known), na_services=na)


def _ind4(incidents: Sequence[Incident], period: Period) -> Ind4:
    # The incident's own tier/pcn (recorded when it happened) decide, so reclassifying a
    # service in the catalogue does not rewrite past restoration times.
    relevant = [i for i in incidents if i.tier == "platina" and i.pcn]
    closed = [i for i in relevant if i.ended_at is not None and _within(i.ended_at, period)]
    still_open = tuple(
        OpenIncident(i.id, i.service, i.started_at, i.ended_at)
        for i in relevant
        if i.started_at < period.end and (i.ended_at is None or i.ended_at >= period.end)
    )
    minutes = sorted(_restore_seconds(i) / 60 for i in closed)
    if not minutes:
        return Ind4(value=None, median=None, p90=None, count=0, open=still_open)
    return Ind4(
        value=statistics.fmean(minutes),
        median=statistics.median(minutes),
        p90=nearest_rank(minutes, 90),
        count=len(minutes),
        open=still_open,
    )


def nearest_rank(ordered: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `percent` % at or below it.

    Always one of the observed values (no interpolation), which a report can point at.
    """
    if not ordered:
        raise ValueError("nearest_rank of no values")
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def _restore_seconds(incident: Incident) -> float:
    if incident.restore_seconds is not None:
        return incident.restore_seconds
    # a closed incident stored without its restore time: same rule as the engine (§3)
    assert incident.ended_at is not None
    elapsed = (incident.ended_at - incident.started_at).total_seconds()
    return elapsed - incident.maintenance_seconds


def _within(at: datetime, period: Period) -> bool:
    return period.start <= at < period.end


def _coverage(catalog: Catalog, observed: set[str]) -> Coverage:
    ids = [s.id for s in catalog.services]
    covered = [i for i in ids if i in observed]
    value = len(covered) / len(ids) * 100 if ids else None
    not_covered = tuple(i for i in ids if i not in observed)
    return Coverage(value=value, covered=len(covered), total=len(ids), not_covered=not_covered)


# ---- JSON -------------------------------------------------------------------------------------


def to_json(ind: Indicators, quar: QuarConfig | None = None) -> dict[str, Any]:
    """A JSON-ready dict; timestamps are ISO 8601 with their UTC offset.

    With `quar`, each indicator also gets target, tolerance, critical, weight, grade and tr,
    and an `op3` object {tr, grade} (null when an indicator it weighs is N/A) is added.
    """
    doc = _raw_json(ind)
    if quar is not None:
        graded = assess(ind.values(), quar)
        for key, indicator in graded.indicators.items():
            doc[key] |= grading_json(indicator)
        doc["op3"] = objective_json(graded)
    return doc


def grading_json(graded: GradedIndicator) -> dict[str, Any]:
    target = graded.target
    return {
        "target": target.target,
        "tolerance": target.tolerance,
        "critical": target.critical,
        "weight": target.weight,
        "grade": None if graded.grade is None else str(graded.grade),
        "tr": graded.tr,
    }


def objective_json(graded: Assessment) -> dict[str, Any]:
    objective = graded.objective
    return {
        "name": objective.name,
        "tr": objective.tr,
        "grade": None if objective.grade is None else str(objective.grade),
        "missing": list(objective.missing),
    }


def _raw_json(ind: Indicators) -> dict[str, Any]:
    return {
        "period": {
            "start": ind.period.start.isoformat(),
            "end": ind.period.end.isoformat(),
            "label": ind.period.label,
        },
        "services": [_service_json(f) for f in ind.services],
        "ind3": {
            "value": ind.ind3.value,
            "count": ind.ind3.count,
            "na_services": list(ind.ind3.na_services),
        },
        "ind4": {
            "value": ind.ind4.value,
            "median": ind.ind4.median,
            "p90": ind.ind4.p90,
            "count": ind.ind4.count,
            "open": [_open_json(o) for o in ind.ind4.open],
        },
        "coverage": {
            "value": ind.coverage.value,
            "covered": ind.coverage.covered,
            "total": ind.coverage.total,
            "not_covered": list(ind.coverage.not_covered),
        },
    }


def _service_json(f: ServiceFigures) -> dict[str, Any]:
    return {
        "id": f.id,
        "availability": f.availability,
        "up_seconds": f.up_seconds,
        "down_seconds": f.down_seconds,
        "maintenance_seconds": f.maintenance_seconds,
        "unknown_seconds": f.unknown_seconds,
        "degraded_seconds": f.degraded_seconds,
        "tier": f.tier,
        "macro_service": f.macro_service,
        "pcn": f.pcn,
        "monitored": f.monitored,
        "incidents": f.incidents,
        "longest_incident_seconds": f.longest_incident_seconds,
    }


def _open_json(o: OpenIncident) -> dict[str, Any]:
    return {
        "id": o.id,
        "service": o.service,
        "started_at": o.started_at.isoformat(),
        "ended_at": None if o.ended_at is None else o.ended_at.isoformat(),
    }
