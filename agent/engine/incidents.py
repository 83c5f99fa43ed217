"""Incidents of one service: open, move, close, merge (semantics.md §3).

An incident is a maximal DOWN interval of the service timeline. After each timeline rewrite
the DOWN intervals reaching the rewritten part are matched to the service's latest incident:
the first continues it when they overlap (its start may move earlier, its end may change),
any other is a new DOWN, merged into the latest incident when the service is flapping or the
gap is shorter than `merge_within`, otherwise a new incident.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from agent.catalog.model import Service
from agent.engine.service import DownInterval
from agent.maintenance import MaintenanceCalendar
from agent.records import Fragment, Incident


@dataclass(frozen=True, slots=True)
class Context:
    """What one reconciliation needs from the engine."""

    confirmed_at: datetime  # end of the result being handled: when a new DOWN became known
    flapping: bool
    cause_of: Callable[[datetime], str]  # "<check id>: <reason>" of the DOWN starting then
    new_id: Callable[[], int]


class IncidentBook:
    def __init__(
        self, service: Service, calendar: MaintenanceCalendar, last: Incident | None = None
    ) -> None:
        self.service = service
        self.calendar = calendar
        self.last = last  # the open incident, or else the newest closed one

    @property
    def open(self) -> Incident | None:
        return self.last if self.last is not None and self.last.is_open else None

    def reconcile(self, intervals: Sequence[DownInterval], ctx: Context) -> list[Incident]:
        """Match the DOWN intervals to incidents; returns the incidents that changed."""
        changed: dict[int, Incident] = {}
        for n, interval in enumerate(intervals):
            before = self.last
            if n == 0 and before is not None and _overlaps(before, interval):
                self.last = self._refit(before, interval, ctx)
            else:
                self.last = self._start(interval, ctx)
            if self.last != before:
                changed[self.last.id] = self.last
        return list(changed.values())

    def replace(self, incident: Incident) -> None:
        self.last = incident

    def _refit(self, incident: Incident, interval: DownInterval, ctx: Context) -> Incident:
        """The interval is (the new shape of) the incident's latest fragments."""
        kept = [f for f in incident.fragments if f.ended_at and f.ended_at < interval.start]
        affected = incident.fragments[len(kept) :]
        fragment = Fragment(interval.start, affected[0].confirmed_at, interval.end)
        cause = incident.cause if kept else ctx.cause_of(interval.start) or incident.cause
        return self._finish(replace(incident, cause=cause), (*kept, fragment))

    def _start(self, interval: DownInterval, ctx: Context) -> Incident:
        fragment = Fragment(interval.start, ctx.confirmed_at, interval.end)
        previous = self.last
        if previous is not None and previous.ended_at is not None:
            gap = (interval.start - previous.ended_at).total_seconds()
            if ctx.flapping or gap < self.service.merge_within:
                return self._finish(previous, (*previous.fragments, fragment))
        incident = Incident(
            id=ctx.new_id(),
            service=self.service.id,
            tier=self.service.tier,
            pcn=self.service.pcn,
            started_at=interval.start,
            confirmed_at=ctx.confirmed_at,
            cause=ctx.cause_of(interval.start),
        )
        return self._finish(incident, (fragment,))

    def _finish(self, incident: Incident, fragments: tuple[Fragment, ...]) -> Incident:
        """Derive start, end and restoration time from the fragments."""
        first, end = fragments[0], fragments[-1].ended_at
        restore: float | None = None
        maintenance = 0.0
        if end is not None:
            maintenance = self.calendar.overlap(self.service.id, first.started_at, end)
            restore = (end - first.started_at).total_seconds() - maintenance
        return replace(
            incident,
            started_at=first.started_at,
            confirmed_at=first.confirmed_at,
            ended_at=end,
            restore_seconds=restore,
            maintenance_seconds=maintenance,
            fragments=fragments,
        )


def _overlaps(incident: Incident, interval: DownInterval) -> bool:
    """Some fragment is open or ends at or after the interval's start: the same DOWN."""
    return any(f.ended_at is None or f.ended_at >= interval.start for f in incident.fragments)
