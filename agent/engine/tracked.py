"""What the engine keeps per check and per service between results, and how a service's state
resumes from a snapshot (a restart, or a partition taken over from another node)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from agent.catalog.model import Service
from agent.engine.checkstate import CheckMachine
from agent.engine.flapping import FlapDetector
from agent.engine.incidents import IncidentBook
from agent.engine.multilocation import MultiLocationCheck
from agent.engine.service import Timeline
from agent.maintenance import MaintenanceCalendar
from agent.records import ServiceStatus, Snapshot, State, Transition

Judge = CheckMachine | MultiLocationCheck  # one check's contribution to its service


@dataclass
class ServiceRuntime:
    service: Service
    timeline: Timeline
    book: IncidentBook
    flap: FlapDetector = field(default_factory=FlapDetector)
    last_seen: datetime | None = None
    last_result_at: datetime | None = None
    saved: ServiceStatus | None = None  # the status as last emitted for the store

    def status(self) -> ServiceStatus:
        now = self.timeline.current
        incident = self.book.open
        return ServiceStatus(
            service=self.service.id,
            state=now.state if now else State.UNKNOWN,
            since=now.at if now else None,
            last_seen_at=self.last_seen,
            flapping=self.flap.flapping,
            flap_history=tuple(self.flap.history),
            open_incident=incident.id if incident else None,
        )


def resume(service: Service, snap: Snapshot, calendar: MaintenanceCalendar) -> ServiceRuntime:
    """The service's runtime as `snap` left it (an empty snapshot: a service seen first)."""
    status = snap.services.get(service.id)
    steps = snap.recent_transitions.get(service.id, ())
    if not steps and status is not None and status.since is not None:
        steps = (_transition(status),)
    last = snap.open_incidents.get(service.id) or snap.last_incidents.get(service.id)
    runtime = ServiceRuntime(
        service, Timeline(service.id, steps), IncidentBook(service, calendar, last)
    )
    if status is not None:
        runtime.flap = FlapDetector(list(status.flap_history), status.flapping)
        runtime.last_seen = status.last_seen_at
    return runtime


def _transition(status: ServiceStatus) -> Transition:
    assert status.since is not None
    return Transition(status.service, status.since, status.state)
