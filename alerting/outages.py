"""What the evaluator remembers of incidents: the recent down intervals of each service (burn
rates, the duration a resolved notification carries) and which open incidents name a parent
as their root cause (the parent's alert)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from agent.records import Incident
from checks.clock import Clock

DOWN_HISTORY = timedelta(days=3)  # the longest burn-rate window
Interval = tuple[datetime, datetime | None]


class Outages:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._root_of: dict[str, dict[str, int]] = {}  # parent -> {child: incident id}
        self._down: dict[str, dict[int, Interval]] = {}  # service -> {incident id: interval}

    def services(self) -> set[str]:
        """The services with a recent outage or that are the root cause of one."""
        return set(self._down) | set(self._root_of)

    def children(self, parent: str) -> list[str]:
        """The services whose open incident names `parent` as root cause, sorted."""
        return sorted(self._root_of.get(parent, {}))

    def down_intervals(self, service: str) -> list[Interval]:
        return list(self._down.get(service, {}).values())

    def interval(self, service: str, incident: int) -> Interval | None:
        return self._down.get(service, {}).get(incident)

    def track(self, incident: Incident) -> set[str]:
        """Remember the incident; returns the services whose alerts it may change."""
        self._down.setdefault(incident.service, {})[incident.id] = (
            incident.started_at,
            incident.ended_at,
        )
        touched = {incident.service}
        for parent, children in self._root_of.items():
            if children.get(incident.service) == incident.id and (
                incident.root_cause != parent or not incident.is_open
            ):
                del children[incident.service]
                touched.add(parent)
        if incident.root_cause and incident.is_open:
            self._root_of.setdefault(incident.root_cause, {})[incident.service] = incident.id
            touched.add(incident.root_cause)
        self._forget_old(incident.service)
        return touched

    def _forget_old(self, sid: str) -> None:
        horizon = self._clock.now() - DOWN_HISTORY
        intervals = self._down.get(sid, {})
        for key in [k for k, (_, end) in intervals.items() if end is not None and end < horizon]:
            del intervals[key]

    def forget(self, services: Iterable[str]) -> None:
        gone = set(services)
        for sid in gone:
            self._down.pop(sid, None)
        for parent in list(self._root_of):
            children = {c: i for c, i in self._root_of[parent].items() if c not in gone}
            if parent in gone or not children:
                del self._root_of[parent]
            else:
                self._root_of[parent] = children
