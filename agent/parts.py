"""How the agent's larger parts are built from its settings: the alerting, the store-derived
metrics and the scheduled reports. `agent.runtime.Agent` builds them all before it starts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from agent.catalog.model import Catalog
from agent.cluster.alert_ownership import AlertOwnership
from agent.cluster.member import ClusterMember
from agent.engine import Engine
from agent.indicators.quar_config import load_quar
from agent.maintenance import MaintenanceCalendar
from agent.metrics import AgentMetrics
from agent.metrics.store_derived import StoreMetrics
from agent.month_to_date import MonthToDate
from agent.settings import Settings
from agent.store.sql import SqlStore
from alerting.evaluator import AlertEvaluator
from alerting.rule_file import load_rules
from alerting.service import AlertingService
from checks.clock import Clock

if TYPE_CHECKING:  # agent.reports is optional in a build: imported when `reports:` is set
    from agent.scheduled_reports.scheduler import ReportScheduler

METRICS_PACE = 0.1  # the availability pass of the store metrics: at most this share of a core
# ... while it runs, and this share on average: at 10,000 services a pass costs ~1.5 s of CPU,
# so availability figures are refreshed every ~75 s there (every 30 s on small estates).
METRICS_CPU_SHARE = 0.02

Signals = Callable[[], dict[str, float]]


def build_alerting(
    settings: Settings,
    catalog: Catalog,
    calendar: MaintenanceCalendar,
    clock: Clock,
    engine: Engine,
    store: SqlStore,
    signals: Signals,
    member: ClusterMember | None,
) -> AlertingService:
    """The alerting over the rules file: raises `RulesError` when it is invalid."""
    console = settings.external_url or f"http://{settings.listen}"
    evaluator = AlertEvaluator(
        load_rules(settings.alert_rules), catalog, calendar, clock, engine,
        signals=signals, console_url=console,
    )  # fmt: skip
    ownership = AlertOwnership(member) if member is not None else None
    return AlertingService(evaluator, store, settings.alerting, clock, cluster=ownership)


def build_store_metrics(
    store: SqlStore,
    catalog: Callable[[], Catalog],
    settings: Callable[[], Settings],
    calendar: MaintenanceCalendar,
    clock: Clock,
    metrics: AgentMetrics,
    month_to_date: MonthToDate,
) -> StoreMetrics:
    """The figures read from the store for /metrics, which also computes the month to date."""
    return StoreMetrics(
        store, catalog, lambda: calendar, clock, metrics.fast,
        timezone=settings().timezone, quar=lambda: load_quar(settings().quar),
        pace=METRICS_PACE, cpu_share=METRICS_CPU_SHARE, month_to_date=month_to_date,
    )  # fmt: skip


def build_reports(
    settings: Callable[[], Settings],
    store: SqlStore,
    clock: Clock,
    catalog: Callable[[], Catalog],
    calendar: MaintenanceCalendar,
) -> ReportScheduler | None:
    """Scheduled reports (`reports:`), or None when they are not configured."""
    config = settings().reports
    if config is None:
        return None
    from agent.scheduled_reports.component import build_scheduler

    return build_scheduler(
        config, store, clock, settings().timezone,
        catalog, lambda: calendar, lambda: load_quar(settings().quar),
    )  # fmt: skip
