"""The raw indicator figures of a period (semantics.md §6-§7): per service, Ind.3, Ind.4,
coverage, as computed by agent/indicators/compute.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from agent.indicators.periods import Period
from agent.indicators.timeline import Timeline
from agent.records import Incident


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
