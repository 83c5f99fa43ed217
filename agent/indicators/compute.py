"""Every raw indicator figure of a period (semantics.md §6-§7): per service, Ind.3, Ind.4,
coverage (the records are in figures.py).

Reads the store, the catalogue and the maintenance calendar. QUAR grading (quar.py) is applied
on top, in `documents.to_json` when a `QuarConfig` is given; the figures themselves do not
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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from agent.catalog.model import Catalog, Service
from agent.indicators.availability import ServiceTime, known_until
from agent.indicators.figures import Coverage, Ind3, Ind4, Indicators, OpenIncident, ServiceFigures
from agent.indicators.periods import Period
from agent.indicators.timeline import PlannedWindows, Timeline
from agent.maintenance import MaintenanceCalendar
from agent.records import Incident, ServiceStatus, Transition
from agent.store.base import Store

_MICROSECOND = timedelta(microseconds=1)


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
