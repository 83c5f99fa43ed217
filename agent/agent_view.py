"""What the HTTP side (API, console, status page) and the cluster wiring see of the running
agent: a structural type that `agent.runtime.Agent` satisfies.

They depend on this module, not on agent.runtime, so runtime -> server -> api/console has no
path back to runtime (tests/agent/test_import_cycles.py fails on one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from agent.api.auth_failures import AuthFailures
    from agent.catalog.model import Catalog
    from agent.cluster.member import ClusterMember
    from agent.engine import Engine
    from agent.locations.book import LocationBook
    from agent.maintenance import MaintenanceCalendar
    from agent.metrics import AgentMetrics
    from agent.month_to_date import MonthToDate
    from agent.records import Effect
    from agent.scheduled_reports.scheduler import ReportScheduler
    from agent.settings import Settings
    from agent.store.sql import SqlStore
    from agent.store.writer import StoreWriter
    from alerting.service import AlertingService
    from checks.clock import Clock
    from checks.context import ProbeContext
    from checks.result import ProbeResult


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
    on_result: Callable[[ProbeResult], None] | None
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
    def cluster(self) -> ClusterView | None: ...

    @property
    def reports(self) -> ReportScheduler | None: ...

    def observe(self, result: ProbeResult, kind: str, location: str = ...) -> None: ...

    def judge(
        self, result: ProbeResult, location: str, kind: str = ..., extra: Sequence[Effect] = ...
    ) -> None: ...

    def dropped(
        self, check: str, location: str, first: datetime, last: datetime, count: int
    ) -> None: ...

    async def reload(self, path: str | Path | None = None) -> ReloadStatus: ...

    def health(self) -> dict[str, Any]: ...
