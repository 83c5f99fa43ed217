"""Why a firing alert is recorded but not notified: its service is in planned maintenance; or,
for outage alerts, a parent is the root cause (inhibition), the service flaps (one flapping
alert instead of a storm), or its parents may still be confirmed DOWN and take the alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from agent.catalog.model import Catalog, Service
from alerting.rules import Rule
from alerting.state import Subject


class Planned(Protocol):
    """The maintenance calendar, as alerting sees it (agent/maintenance.py)."""

    def in_planned(self, service: str, at: datetime) -> bool: ...


class Suppression:
    def __init__(self, calendar: Planned, catalog: Catalog) -> None:
        self.calendar = calendar
        self.catalog = catalog

    def __call__(self, rule: Rule, subject: Subject, now: datetime, since: datetime) -> str | None:
        if subject.service is None:
            return None
        if self.calendar.in_planned(subject.service.id, now):
            return "maintenance"
        if rule.when != "service_state":
            return None
        incident = subject.incident
        if incident is not None and incident.inhibited:
            return "inhibited"
        if subject.status and subject.status.flapping:
            return "flapping"
        if (now - since).total_seconds() < self.parent_grace(subject.service):
            return "awaiting-parents"
        return None

    def parent_grace(self, service: Service) -> float:
        """How long a child's outage alert waits for its parents to be confirmed DOWN.

        A child probed earlier in the interval sees a shared outage first; its parent needs up
        to `interval x confirm_down` more to be confirmed and take the alert (inhibition), as
        Alertmanager's group_wait gives inhibiting alerts time to arrive. No parents, no wait.
        """
        grace = 0.0
        for parent in parents(self.catalog.by_id, service.id):
            checks = self.catalog.by_id[parent].checks
            grace = max([grace, *(c.interval * c.timing.confirm_down for c in checks)])
        return grace


def parents(services: Mapping[str, Service], service: str) -> set[str]:
    """Every service `service` depends on, directly or not; cycles and unknown ids ignored."""
    found: set[str] = set()
    todo = [service]
    while todo:
        sid = todo.pop()
        for parent in services[sid].depends_on if sid in services else ():
            if parent != service and parent not in found and parent in services:
                found.add(parent)
                todo.append(parent)
    return found
