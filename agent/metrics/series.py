"""The cached series of one service and one check in the agent's line families: looked up
once, then set on every result or status without building label tuples again."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from agent.catalog.model import Service
from agent.metrics.exposition import LineFamily, Series
from agent.records import State
from checks.result import Outcome

SERVICE_LABELS = ("service", "tier", "macro_service", "pcn")
CHECK_LABELS = ("service", "check", "kind")
STATES = tuple(s.value for s in State)
OUTCOMES = tuple(o.value for o in Outcome)


class LineFamilies(Protocol):
    """The per-service and per-check families (`AgentMetrics` has them)."""

    service_up: LineFamily
    service_state: LineFamily
    service_flapping: LineFamily
    service_stale: LineFamily
    check_success: LineFamily
    check_location_success: LineFamily
    check_results: LineFamily
    check_last_duration: LineFamily
    tls_expiry: LineFamily


def service_labels(service: Service) -> tuple[str, str, str, str]:
    return (service.id, service.tier, service.macro_service, str(service.pcn).lower())


class ServiceSeries:
    __slots__ = ("flapping", "labels", "stale", "state", "states", "up")

    def __init__(self, metrics: LineFamilies, labels: tuple[str, ...]) -> None:
        self.labels = labels
        self.up = metrics.service_up.series(*labels)
        self.states = {s: metrics.service_state.series(*labels, s) for s in STATES}
        self.flapping = metrics.service_flapping.series(*labels)
        self.stale = metrics.service_stale.series(*labels)
        self.state = ""


class CheckSeries:
    __slots__ = (
        "_metrics", "expiry", "kind", "labels", "last", "locations", "not_after", "results",
        "success",
    )  # fmt: skip

    def __init__(self, metrics: LineFamilies, service: str, check: str, kind: str) -> None:
        self._metrics = metrics
        self.kind = kind
        self.labels = (service, check, kind)
        self.results = {o: metrics.check_results.series(*self.labels, o) for o in OUTCOMES}
        self.success = metrics.check_success.series(*self.labels)
        self.locations: dict[str, Series] = {}
        self.last: dict[str, Series] = {}
        self.expiry: Series | None = None
        self.not_after = ""

    def last_duration(self, phase: str) -> Series:
        found = self.last.get(phase)
        if found is None:
            found = self.last[phase] = self._metrics.check_last_duration.series(*self.labels, phase)
        return found

    def location_success(self, location: str) -> Series:
        found = self.locations.get(location)
        if found is None:
            line = self._metrics.check_location_success
            found = self.locations[location] = line.series(*self.labels, location)
        return found

    def set_expiry(self, not_after: str) -> None:
        if not_after == self.not_after:
            return
        try:
            moment = datetime.fromisoformat(not_after.replace("Z", "+00:00"))
        except ValueError:
            return
        self.not_after = not_after
        if self.expiry is None:
            self.expiry = self._metrics.tls_expiry.series(*self.labels)
        self.expiry.set(moment.timestamp())

    def drop(self) -> None:
        m = self._metrics
        for outcome in OUTCOMES:
            m.check_results.remove(*self.labels, outcome)
        m.check_success.remove(*self.labels)
        for location in self.locations:
            m.check_location_success.remove(*self.labels, location)
        for phase in self.last:
            m.check_last_duration.remove(*self.labels, phase)
        m.tls_expiry.remove(*self.labels)
