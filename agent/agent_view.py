"""What the HTTP side (API, console, status page) and the cluster wiring see of the running
agent: a structural type that `agent.runtime.Agent` satisfies.

They depend on this module, not on agent.runtime, so runtime -> server -> api/console has no
path back to runtime (tests/agent/test_import_cycles.py fails on one).

Every part is there from the moment the agent is built; `running` says whether the engine,
the calendar and the alerting hold the live state yet. Before (and in a view of an agent that
never ran) readers take the store's copy: the helpers below say which, in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agent.maintenance import MaintenanceCalendar
from checks.result import ProbeResult

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from agent.access.failures import AuthFailures
    from agent.catalog.model import Catalog
    from agent.cluster.member import ClusterMember
    from agent.engine import Engine
    from agent.locations.book import LocationBook
    from agent.metrics import AgentMetrics
    from agent.month_to_date import MonthToDate
    from agent.records import Effect
    from agent.scheduled_reports.scheduler import ReportScheduler
    from agent.settings import Settings
    from agent.store.sql import SqlStore
    from agent.store.writer import StoreWriter
    from alerting.evaluator import AlertState
    from alerting.service import AlertingService
    from checks.clock import Clock
    from checks.context import ProbeContext

ResultHook = Callable[[ProbeResult], None]


@dataclass
class ReloadStatus:
    ok: bool = True
    error: str = ""
    at: datetime | None = None


class ClusterView(Protocol):
    member: ClusterMember


class AgentView(Protocol):
    settings: Settings
    catalog: Catalog
    store: SqlStore
    clock: Clock
    registry: CollectorRegistry
    reread_settings: Callable[[], Settings] | None
    metrics: AgentMetrics
    month_to_date: MonthToDate
    auth_failures: AuthFailures
    probes: ProbeContext
    reload_status: ReloadStatus
    locations: LocationBook
    engine: Engine
    calendar: MaintenanceCalendar
    alerting: AlertingService
    writer: StoreWriter

    @property
    def running(self) -> bool: ...

    @property
    def cluster(self) -> ClusterView | None: ...

    @property
    def reports(self) -> ReportScheduler | None: ...

    def subscribe(self, hook: ResultHook) -> Callable[[], None]: ...

    def observe(self, result: ProbeResult, kind: str, location: str = ...) -> None: ...

    def judge(
        self, result: ProbeResult, location: str, kind: str = ..., extra: Sequence[Effect] = ...
    ) -> None: ...

    def dropped(
        self, check: str, location: str, first: datetime, last: datetime, count: int
    ) -> None: ...

    async def reload(self, path: str | Path | None = None) -> ReloadStatus: ...

    def health(self) -> dict[str, Any]: ...


def live_engine(agent: AgentView) -> Engine | None:
    """The engine while it holds the live state; None before (read the store's statuses)."""
    return agent.engine if agent.running else None


def live_calendar(agent: AgentView) -> MaintenanceCalendar | None:
    """The calendar with the store's ad-hoc windows, while the agent runs; None before."""
    return agent.calendar if agent.running else None


def live_alerts(agent: AgentView) -> dict[str, AlertState] | None:
    """The alerting's active alerts in memory (up to a tick ahead of the store) while the
    agent runs; None before (read them from the store)."""
    return agent.alerting.evaluator.alerts if agent.running else None


def calendar_now(agent: AgentView, catalog: Catalog | None = None) -> MaintenanceCalendar:
    """Blocking: the running calendar, or one over the store's windows before the agent runs
    (for `catalog`, the agent's by default)."""
    calendar = live_calendar(agent)
    if calendar is not None:
        return calendar
    windows = agent.store.windows()
    allow = agent.settings.allow_retroactive_maintenance
    return MaintenanceCalendar(catalog or agent.catalog, windows, allow)
