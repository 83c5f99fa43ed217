"""A service's timeline over a period, and planned windows read once per period for all services.

`Timeline` keeps what a service's time was computed from, so reports can split the period (by
day) with exactly the arithmetic of `agent.indicators.availability`. `PlannedWindows` answers the
maintenance calendar's `planned` for thousands of services: recurring rules are expanded once
per (cron, duration, timezone) and range, since most services share the same few rules, and
ad-hoc windows are looked up by service instead of scanned for each.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache
from itertools import pairwise

from agent.catalog.model import Catalog, MaintenanceRule
from agent.indicators.availability import (
    Interval,
    ServiceTime,
    bounds_micros,
    service_time,
    split_time,
    to_micros,
)
from agent.maintenance import MaintenanceCalendar, merge, rule_windows
from agent.records import MaintenanceWindow, State, Transition

_US_PER_S = 1_000_000


@dataclass(frozen=True)
class Timeline:
    """What a service's time was computed from, kept so reports can split the period (by day)
    with exactly the same arithmetic."""

    transitions: tuple[Transition, ...]  # sorted by time (equal times keep their order)
    unknown: tuple[Interval, ...]
    planned: tuple[Interval, ...]
    known_until: datetime | None

    def time(self, start: datetime, end: datetime) -> ServiceTime:
        lo, hi = to_micros(start), to_micros(end)
        state = self._steady(lo, hi)
        if state is not None:
            return _steady_time(state, hi - lo)
        return service_time(
            self.transitions, self.unknown, self.planned, self.known_until, start, end
        )

    def split(self, bounds: Sequence[datetime]) -> list[ServiceTime]:
        """`time` of each [bounds[i], bounds[i + 1]) (bounds must not decrease), in one pass."""
        edges = bounds_micros(tuple(bounds))
        state = self._steady(edges[0], edges[-1]) if len(edges) > 1 else None
        if state is None:
            return split_time(
                self.transitions, self.unknown, self.planned, self.known_until, bounds
            )
        same: dict[int, ServiceTime] = {}  # days mostly share a length: share the result
        out = []
        for lo, hi in pairwise(edges):
            found = same.get(hi - lo)
            if found is None:
                found = same[hi - lo] = _steady_time(state, hi - lo)
            out.append(found)
        return out

    def _steady(self, lo: int, hi: int) -> State | None:
        """The common case of a range with nothing in it, without the sweep (same result): the
        one known state over all of [lo, hi), with no unknown or maintenance time; else None."""
        if hi <= lo or (self._known_until is not None and self._known_until < hi):
            return None
        if any(a < hi and b > lo for a, b in self._spans):
            return None
        times = self._times
        index = bisect.bisect_right(times, lo)  # transitions at or before lo
        if index == 0 or (index < len(times) and times[index] < hi):
            return None
        state = self.transitions[index - 1].state
        return None if state is State.UNKNOWN else state

    @cached_property
    def _times(self) -> list[int]:
        return [to_micros(t.at) for t in self.transitions]

    @cached_property
    def _spans(self) -> tuple[tuple[int, int], ...]:
        return tuple((to_micros(a), to_micros(b)) for a, b in (*self.unknown, *self.planned))

    @cached_property
    def _known_until(self) -> int | None:
        return None if self.known_until is None else to_micros(self.known_until)


def _steady_time(state: State, length_us: int) -> ServiceTime:
    seconds = length_us / _US_PER_S  # as the sweep counts
    up = seconds if state is not State.DOWN else 0.0
    degraded = seconds if state is State.DEGRADED else 0.0
    return ServiceTime(up, degraded, seconds - up, 0.0, 0.0)


class PlannedWindows:
    """`MaintenanceCalendar.planned` (same result) for many services over the same ranges."""

    def __init__(self, calendar: MaintenanceCalendar) -> None:
        self._calendar = calendar
        by_service: dict[str, list[MaintenanceWindow]] = defaultdict(list)
        for window in calendar.adhoc:
            by_service[window.service].append(window)
        # The calendar itself decides which ad-hoc windows count (retroactive, cancelled): ask
        # one holding only this service's windows and no recurring rules.
        empty = Catalog(calendar.catalog.version, {}, ())
        self._adhoc = {
            service: MaintenanceCalendar(empty, tuple(windows), calendar.allow_retroactive)
            for service, windows in by_service.items()
        }

    def planned(self, service: str, start: datetime, end: datetime) -> list[Interval]:
        """Merged planned windows of `service` overlapping [start, end)."""
        found: list[Interval] = []
        svc = self._calendar.catalog.by_id.get(service)
        for rule in svc.maintenance if svc else ():
            found.extend(cached_rule_windows(rule, start, end))
        adhoc = self._adhoc.get(service)
        if adhoc is not None:
            found.extend(adhoc.planned(service, start, end))
        return merge(found)


def cached_rule_windows(
    rule: MaintenanceRule, start: datetime, end: datetime
) -> tuple[Interval, ...]:
    """`rule_windows`, expanded once per (cron, duration, timezone, start, end)."""
    return _rule_windows(rule.cron, rule.duration, rule.timezone, start, end)


@lru_cache(maxsize=256)
def _rule_windows(
    cron: str, duration: float, timezone: str, start: datetime, end: datetime
) -> tuple[Interval, ...]:
    return tuple(rule_windows(MaintenanceRule(cron, duration, timezone), start, end))
