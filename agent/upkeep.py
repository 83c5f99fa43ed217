"""The running agent's periodic upkeep: its heartbeat row, the gauges fed from counters, the
ad-hoc maintenance windows and heartbeat beats re-read from the store, and retention. The
agent schedules each with `checks.periodic.every` (agent/runtime.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from agent.catalog.model import Catalog
from agent.clock_watch import ClockStep
from agent.engine import Engine
from agent.maintenance import MaintenanceCalendar
from agent.metrics import AgentMetrics
from agent.scheduler import ProbeScheduler
from agent.settings import Settings
from agent.store.retention import run_retention
from agent.store.sql import SqlStore
from alerting.service import AlertingService
from checks.clock import Clock
from checks.context import ProbeContext

log = logging.getLogger(__name__)


@dataclass
class Upkeep:
    store: SqlStore
    clock: Clock
    catalog: Callable[[], Catalog]  # the running catalogue and settings (a reload swaps them)
    settings: Callable[[], Settings]
    calendar: MaintenanceCalendar
    probes: ProbeContext
    metrics: AgentMetrics
    scheduler: ProbeScheduler
    engine: Engine
    alerting: AlertingService
    lateness_p99: float = 0.0  # of the latest samples drained: an agent-health signal

    async def heartbeat(self) -> None:
        await asyncio.to_thread(self.store.record_agent_heartbeat, self.clock.now())
        self.refresh_gauges()

    async def drain_metrics(self) -> None:
        self.refresh_gauges()
        self.metrics.mark_stale(self.catalog(), self.engine.last_seen, self.clock.now())

    def refresh_gauges(self) -> None:
        # the other agent figures are read by the metrics collector when scraped
        samples = self.scheduler.stats.take_lateness()
        for seconds in samples:
            self.metrics.lateness.observe(seconds)
        if samples:
            samples.sort()
            self.lateness_p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))]
        self.metrics.outbox_backlog.set(self.alerting.backlog)
        firing = [a for a in self.alerting.evaluator.alerts.values() if a.state == "firing"]
        self.metrics.alerts_firing.set(len(firing))

    async def record_clock_step(self, step: ClockStep) -> None:
        try:
            await asyncio.to_thread(self.store.record_clock_step, step.at, step.seconds)
        except Exception:  # the database away: the step stays in the log and the metrics
            log.exception("could not record the wall-clock step of %+.1f s", step.seconds)

    async def refresh_windows(self) -> None:
        self.calendar.adhoc = await asyncio.to_thread(self.store.windows)

    async def refresh_beats(self) -> None:
        """Beats of heartbeat checks taken by any node (or before a restart) reach this one's
        book, which its heartbeat probes read: the stored beat is kept when it is newer."""
        if any(c.kind == "heartbeat" for c in self.catalog().checks.values()):
            self.probes.heartbeats.seed(await asyncio.to_thread(self.store.beats))

    async def prune(self) -> None:
        """Roll up expired results, then compact ok ones (agent/store/retention.py)."""
        settings = self.settings()
        await run_retention(
            self.store, self.clock.now, settings.raw_retention_days, settings.retention
        )
