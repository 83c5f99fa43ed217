"""Small catalogues, results and an in-memory effect applier for engine tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from agent.catalog.model import Catalog, Check, Impact, Service, Timing
from agent.engine import Engine
from agent.maintenance import MaintenanceCalendar
from agent.records import (
    CheckStatus,
    CheckStatusSaved,
    Effect,
    Incident,
    IncidentSaved,
    LocationState,
    LocationStateSaved,
    MaintenanceWindow,
    ResultRecorded,
    ServiceStatus,
    ServiceStatusSaved,
    Snapshot,
    TimelineRewritten,
    Transition,
    UnknownRecorded,
)
from checks.result import Outcome, ProbeResult
from checks.specs import TcpSpec

E = TypeVar("E")

T0 = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
DURATION = 0.5  # seconds every test probe takes


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def check(
    service: str,
    name: str = "tcp",
    *,
    confirm_down: int = 3,
    confirm_up: int = 2,
    impact: Impact = Impact.DOWN,
) -> Check:
    timing = Timing(interval=60, timeout=10, confirm_down=confirm_down, confirm_up=confirm_up)
    spec = TcpSpec(host=f"{service}.example", port=443)
    return Check(f"{service}/{name}", service, name, "tcp", spec, timing, impact)


def service(
    sid: str,
    *checks: Check,
    depends_on: Sequence[str] = (),
    merge_within: float = 0,
    tier: str = "platina",
) -> Service:
    return Service(
        id=sid,
        name=sid.title(),
        macro_service="comunicacoes",
        tier=tier,
        pcn=True,
        owner="noc",
        monitored=True,
        depends_on=tuple(depends_on),
        maintenance=(),
        timing=Timing(interval=60, timeout=10, confirm_down=3, confirm_up=2),
        merge_within=merge_within,
        flap_start=20,
        flap_stop=5,
        checks=checks or (check(sid),),
    )


def catalog(*services: Service) -> Catalog:
    return Catalog(version=1, tiers={}, services=services)


def window(service: str, start: datetime, end: datetime) -> MaintenanceWindow:
    """An ad-hoc window declared a day ahead (planned, §5)."""
    return MaintenanceWindow(1, service, start, end, "upgrade", start - timedelta(days=1))


def engine(cat: Catalog, windows: Iterable[MaintenanceWindow] = ()) -> Engine:
    return Engine(cat, MaintenanceCalendar(cat, tuple(windows)))


def result(check_id: str, seconds: float, outcome: Outcome, reason: str = "") -> ProbeResult:
    return ProbeResult(check_id, at(seconds), DURATION, outcome, reason)


def feed(eng: Engine, check_id: str, plan: str, start: float = 0, step: float = 60) -> list[Effect]:
    """Replay a plan such as "oofff": o=ok, d=degraded, f=fail, u=unknown, one per `step`."""
    outcomes = {"o": Outcome.OK, "d": Outcome.DEGRADED, "f": Outcome.FAIL, "u": Outcome.UNKNOWN}
    effects: list[Effect] = []
    for i, letter in enumerate(plan):
        reason = "connection refused" if letter == "f" else ""
        effects += eng.observe(result(check_id, start + i * step, outcomes[letter], reason))
    return effects


def of_type(effects: Iterable[Effect], kind: type[E]) -> list[E]:
    return [e for e in effects if isinstance(e, kind)]


def incidents(effects: Iterable[Effect]) -> list[Incident]:
    """The final version of every saved incident, by id."""
    latest = {e.incident.id: e.incident for e in of_type(effects, IncidentSaved)}
    return [latest[i] for i in sorted(latest)]


@dataclass
class MemoryStore:
    """Applies effects as the store writer would, and builds the restart Snapshot."""

    results: list[ResultRecorded] = field(default_factory=list)
    unknown: list[UnknownRecorded] = field(default_factory=list)
    transitions: dict[str, list[Transition]] = field(default_factory=dict)
    incidents: dict[int, Incident] = field(default_factory=dict)
    checks: dict[str, CheckStatus] = field(default_factory=dict)
    services: dict[str, ServiceStatus] = field(default_factory=dict)
    locations: dict[str, dict[str, LocationState]] = field(default_factory=dict)

    def apply(self, effects: Iterable[Effect]) -> None:
        for effect in effects:
            self._apply(effect)

    def _apply(self, effect: Effect) -> None:
        if isinstance(effect, ResultRecorded):
            self.results.append(effect)
        elif isinstance(effect, UnknownRecorded):
            self.unknown.append(effect)
        elif isinstance(effect, TimelineRewritten):
            kept = [t for t in self.transitions.get(effect.service, []) if t.at < effect.since]
            self.transitions[effect.service] = kept + list(effect.steps)
        elif isinstance(effect, IncidentSaved):
            self.incidents[effect.incident.id] = effect.incident
        elif isinstance(effect, CheckStatusSaved):
            self.checks[effect.status.check] = effect.status
        elif isinstance(effect, ServiceStatusSaved):
            self.services[effect.status.service] = effect.status
        elif isinstance(effect, LocationStateSaved):
            state = effect.state
            self.locations.setdefault(state.check, {})[state.location] = state

    def snapshot(self) -> Snapshot:
        by_start = sorted(self.incidents.values(), key=lambda i: (i.started_at, i.id))
        return Snapshot(
            checks=dict(self.checks),
            services=dict(self.services),
            open_incidents={i.service: i for i in by_start if i.is_open},
            last_incidents={i.service: i for i in by_start if not i.is_open},
            recent_transitions={s: tuple(t[-10:]) for s, t in self.transitions.items()},
            next_incident_id=max(self.incidents, default=0) + 1,
            locations={c: dict(states) for c, states in self.locations.items()},
        )
