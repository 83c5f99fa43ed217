"""What the monthly SLA report holds: its figures, before any rendering (agent/reports/
monthly.py builds them; the page, the charts, CSV and JSON read them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from agent.indicators.figures import Indicators, ServiceFigures
from agent.indicators.periods import Period
from agent.indicators.quar import Assessment
from agent.indicators.quar_config import QuarConfig
from agent.records import Incident


@dataclass(frozen=True, slots=True)
class GroupRow:
    """A macro service or a tier: mean availability of its known services (as Ind.3)."""

    name: str
    services: int
    known: int
    availability: float | None
    down_seconds: float
    incidents: int


@dataclass(frozen=True, slots=True)
class PlatinumRow:
    incident: Incident
    counted: bool  # closed inside the period: part of Ind.4
    restore_seconds: float | None


@dataclass(frozen=True, slots=True)
class WindowRow:
    service: str
    kind: str  # adhoc | recurring
    start: datetime | None
    end: datetime | None
    reason: str
    author: str
    retroactive: bool
    cancelled: bool
    occurrences: int
    seconds: float


@dataclass(frozen=True, slots=True)
class LocationProbes:
    """The appendix's row for one location: the share of its probes that were ok or degraded,
    over every service it probed and for the worst ones. A probe ratio, not an availability:
    the QUAR figures use the service verdict over all locations only (semantics.md §8)."""

    location: str
    probes: int
    success: float | None  # judged probes that were ok or degraded
    worst: tuple[tuple[str, float], ...]  # (service, success) below 1, lowest first


@dataclass(frozen=True)
class ClockStepRow:
    """A wall-clock step: results stamped in [suspect_from, suspect_to] may carry times that
    are off by up to the step's size (semantics.md §10)."""

    at: datetime
    seconds: float

    @property
    def suspect_from(self) -> datetime:  # a forward step skipped the time before it
        return self.at - timedelta(seconds=max(self.seconds, 0.0))

    @property
    def suspect_to(self) -> datetime:  # a backward step stamps the time after it twice
        return self.at + timedelta(seconds=max(-self.seconds, 0.0))


@dataclass(frozen=True)
class MonthlyReport:
    period: Period
    generated_at: datetime
    timezone: str
    quar: QuarConfig
    indicators: Indicators
    assessment: Assessment
    by_macro: tuple[GroupRow, ...]
    by_tier: tuple[GroupRow, ...]
    offenders: tuple[ServiceFigures, ...]
    platinum: tuple[PlatinumRow, ...]
    windows: tuple[WindowRow, ...]
    days: tuple[date, ...]
    daily: dict[str, tuple[float | None, ...]]  # tier -> availability per day
    clock_steps: tuple[ClockStepRow, ...] = ()
    by_location: tuple[LocationProbes, ...] = ()  # empty when only the core probes
    version: int | None = None  # the archive's version of this period's report (scheduled)

    @property
    def has_data(self) -> bool:
        return self.indicators.has_data
