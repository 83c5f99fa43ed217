"""The running agent: scheduler -> probes -> engine -> store writer, metrics and HTTP server,
all on one asyncio loop. Blocking work (SQL) goes to threads through the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from agent.agent_view import ReloadStatus
from agent.api.auth_failures import AuthFailures
from agent.catalog.errors import CatalogError
from agent.catalog.loader import load
from agent.catalog.model import LOCAL, Catalog, Check
from agent.clock_watch import ClockStep
from agent.cluster.wiring import (
    DRAIN_EVERY_SECONDS,
    ClusterNode,
    lease_config,
)
from agent.connectivity import Connectivity
from agent.engine import Engine
from agent.engine.ids import IncidentIds
from agent.health import REASONS, AgentHealth, HealthLimits, HealthSample
from agent.locations.book import LocationBook, silence_limits
from agent.maintenance import MaintenanceCalendar
from agent.metrics import AgentMetrics
from agent.metrics_store import StoreMetrics
from agent.month_to_date import MonthToDate
from agent.quar_config import load_quar
from agent.records import Effect, IncidentSaved, ResultPending, ServiceStatusSaved, Snapshot
from agent.scheduler import ProbeScheduler
from agent.server import create_app, serve
from agent.settings import Settings, split_host_port
from agent.store.retention import run_retention
from agent.store.sql import SqlStore
from agent.store.writer import RETRY_MAX as WRITER_RETRY_MAX
from agent.store.writer import StoreWriter
from alerting.conditions import (
    LOCATION_BLIND_PREFIX,
    LOCATION_DOWN_PREFIX,
    LOCATION_SKEWED_PREFIX,
)
from alerting.errors import RulesError
from alerting.evaluator import AlertEvaluator
from alerting.rule_file import load_rules
from alerting.rules import Rule
from alerting.service import AlertingService
from checks.clock import Clock
from checks.context import ProbeContext
from checks.result import ProbeResult
from checks.runner import run_probe

if TYPE_CHECKING:  # agent.reports is optional in a build: imported when `reports:` is set
    from agent.scheduled_reports.scheduler import ReportScheduler

log = logging.getLogger(__name__)

WINDOW_REFRESH_SECONDS = 30.0
BEATS_REFRESH_SECONDS = 2.0  # a beat taken by another node is seen by the check's owner
PRUNE_EVERY_SECONDS = 3600.0
CONNECTIVITY_EVERY_SECONDS = 10.0
HEALTH_EVERY_SECONDS = 5.0  # the health gauges move without a /healthz request
METRICS_DRAIN_SECONDS = 5.0  # probe lateness samples -> histogram
METRICS_PACE = 0.1  # the availability pass of the store metrics: at most this share of a core
# ... while it runs, and this share on average: at 10,000 services a pass costs ~1.5 s of CPU,
# so availability figures are refreshed every ~75 s there (every 30 s on small estates).
METRICS_CPU_SHARE = 0.02
ResultHook = Callable[[ProbeResult], None]
SettingsSource = Callable[[], Settings]
# What a reload takes from a re-read settings file; everything else needs a restart.
RELOADABLE_SETTINGS = ("tokens", "anonymous_board", "status_page")


@dataclass
class Agent:
    settings: Settings
    catalog: Catalog
    store: SqlStore  # the one implementation of the Store contract (SQLite, PostgreSQL)
    clock: Clock
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    serve_http: bool = True
    on_result: ResultHook | None = None  # the demo narrates results through this
    reread_settings: SettingsSource | None = None  # a reload re-reads tokens through this

    def __post_init__(self) -> None:
        self.metrics = AgentMetrics(self.registry)
        self.month_to_date = MonthToDate(self.clock)  # computed by store_metrics, read by all
        self.auth_failures = AuthFailures(self.clock.monotonic, self.registry)
        self.probes = ProbeContext.create(self.clock)
        target = self.settings.connectivity_check
        self.connectivity = Connectivity(split_host_port(target) if target else None)
        self.reload_status = ReloadStatus(at=self.clock.now())
        self.stop = asyncio.Event()
        self.started = asyncio.Event()  # every part built and running
        self._tasks: list[asyncio.Task[None]] = []
        self.fatal: Exception | None = None
        self.cluster: ClusterNode | None = None  # several core nodes (semantics.md §9)
        self.reports: ReportScheduler | None = None  # scheduled reports, when configured
        self.lateness_p99 = 0.0
        self.health_reasons: tuple[str, ...] = ()
        names = self.settings.location_names
        self.locations = LocationBook(self.registry, names, self.clock.now())

    # ---- lifecycle --------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until `stop` is set, then drain in-flight probes and the writer."""
        await self._start()
        try:
            await self.stop.wait()
        finally:
            await self._shutdown()
        if self.fatal is not None:
            raise self.fatal

    async def _fatal_on_error(self, work: Awaitable[None]) -> None:
        """A part the agent cannot run without (its HTTP listener) stops the whole agent."""
        try:
            await work
        except Exception as exc:
            self.fatal = exc
            self.stop.set()

    async def _start(self) -> None:
        config = lease_config(self.settings)
        self.cluster = ClusterNode(self, config) if config is not None else None
        # a cluster node starts owning nothing: each partition's state is read when claimed
        snapshot = Snapshot() if self.cluster else await asyncio.to_thread(self.store.load_snapshot)
        self.locations.restore_dropped(await asyncio.to_thread(self.store.dropped_counts))
        windows = await asyncio.to_thread(self.store.windows)
        self.calendar = MaintenanceCalendar(
            self.catalog, windows, self.settings.allow_retroactive_maintenance
        )
        self.incident_ids = IncidentIds(self.store.reserve_ids, self.store.give_back_ids)
        await asyncio.to_thread(self.incident_ids.prefetch)
        self.engine = Engine(self.catalog, self.calendar, snapshot, self.incident_ids)
        fencing = self.cluster.member.fencing if self.cluster else None
        retry_max = self.cluster.writer_retry_max if self.cluster else WRITER_RETRY_MAX
        self.writer = StoreWriter(self.store, fencing=fencing, retry_max=retry_max)
        self.writer.start()
        self.alerting = self._build_alerting(load_rules(self.settings.alert_rules))
        await self.alerting.start()
        if self.cluster is not None:
            await self.cluster.start()
            self._spawn(self._every(DRAIN_EVERY_SECONDS, self.cluster.drain_pending))
            self._spawn(self._every(self.cluster.health_every, self.cluster.refresh_health))
        await self._refresh_beats()  # beats from before a restart, before the first probe
        self.scheduler = ProbeScheduler(
            self._probe,
            self.clock,
            self.settings.max_in_flight,
            self.settings.max_per_host,
            on_clock_step=self._record_clock_step,
        )
        self.scheduler.start(self.catalog)
        self._start_metrics()
        self.reports = self._start_reports()
        self._mark_reload(ok=True, error="")
        self._start_health()
        self._spawn(self._every(self.settings.agent_heartbeat, self._heartbeat))
        self._spawn(self._every(WINDOW_REFRESH_SECONDS, self._refresh_windows))
        self._spawn(self._every(BEATS_REFRESH_SECONDS, self._refresh_beats))
        self._spawn(self._every(PRUNE_EVERY_SECONDS, self._prune))
        if self.connectivity.target:
            self._spawn(self._every(CONNECTIVITY_EVERY_SECONDS, self.connectivity.refresh))
        if self.serve_http:
            app = create_app(self.metrics.render, self.health, agent=self)
            answer = app.state.vigia_status.answer  # the status page, from memory under a crowd
            serving = serve(app, self.settings.listen, self.stop, self.settings, answer)
            self._spawn(self._fatal_on_error(serving))
        log.info("vigia running: %d checks, store %r", self.scheduler.job_count, self.store)
        self.started.set()

    def _start_metrics(self) -> None:
        self.metrics.watch(self.scheduler, self.writer)
        self.metrics.sync_catalog(self.catalog, self.engine.service_status)
        self.store_metrics = StoreMetrics(
            self.store,
            lambda: self.catalog,
            lambda: self.calendar,
            self.clock,
            self.metrics.fast,
            timezone=self.settings.timezone,
            quar=lambda: load_quar(self.settings.quar),
            pace=METRICS_PACE,
            cpu_share=METRICS_CPU_SHARE,
            month_to_date=self.month_to_date,
        )
        self.metrics.add_fast(self.store_metrics)
        self._spawn(self.store_metrics.run())
        self._spawn(self._every(METRICS_DRAIN_SECONDS, self._drain_metrics))

    def _start_reports(self) -> ReportScheduler | None:
        """Scheduled reports (`reports:`), a task cancelled at shutdown like the others."""
        config = self.settings.reports
        if config is None:
            return None
        from agent.scheduled_reports.component import build_scheduler

        reports = build_scheduler(
            config, self.store, self.clock, self.settings.timezone,
            lambda: self.catalog, lambda: self.calendar, lambda: load_quar(self.settings.quar),
        )  # fmt: skip
        self._spawn(reports.run())
        return reports

    async def _shutdown(self) -> None:
        grace = max((c.timeout for c in self.catalog.checks.values()), default=10.0) + 1.0
        await self.scheduler.shutdown(grace)
        self.writer.submit(self._mine(self.engine.shutdown(self.clock.now())))
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.alerting.aclose()
        await self.writer.aclose()
        if self.cluster is not None:  # released after the last fenced commit
            await self.cluster.stop()
        await asyncio.to_thread(self.incident_ids.close)  # after the last incident is written
        await self.probes.aclose()
        log.info("vigia stopped cleanly")

    def _start_health(self) -> None:
        self.agent_health = AgentHealth(self.clock.monotonic, self._health_limits())
        self.metrics.set_health((), REASONS)
        self._spawn(self._every(HEALTH_EVERY_SECONDS, self._judge_health))

    def _health_limits(self) -> HealthLimits:
        checks = self.catalog.checks.values()
        shortest = min((c.interval for c in checks), default=60.0)
        timeout = max((c.timeout for c in checks), default=10.0)
        return HealthLimits.for_checks(shortest, timeout)

    async def _judge_health(self) -> None:
        self.health()

    def _spawn(self, work: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(work))

    async def _every(self, seconds: float, action: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await action()
            except Exception:
                log.exception("periodic task %s failed", getattr(action, "__name__", action))
            await asyncio.sleep(seconds)

    # ---- the probe path ---------------------------------------------------------------------

    async def _probe(self, check: Check, due: datetime) -> None:
        if self.cluster is not None and not self.cluster.member.holds(check.service):
            return  # another node's partition: its owner probes it
        result = await run_probe(check.id, check.kind, check.spec, check.timeout, self.probes)
        self.observe(self.connectivity.judge(result), check.kind)

    def _record_clock_step(self, step: ClockStep) -> None:
        async def record() -> None:
            try:
                await asyncio.to_thread(self.store.record_clock_step, step.at, step.seconds)
            except Exception:  # the database away: the step stays in the log and the metrics
                log.exception("could not record the wall-clock step of %+.1f s", step.seconds)

        self._spawn(record())

    def observe(self, result: ProbeResult, kind: str, location: str = LOCAL) -> None:
        """One probe result, from the core's own probes or a location's worker (§8). On a
        cluster node, a result of a partition it does not own waits in the database for
        the partition's owner (§9)."""
        cluster = self.cluster
        if cluster is not None and not cluster.member.owns(result.service):
            partition = cluster.member.partition_of(result.service)
            self.writer.submit([ResultPending(result, location, partition)])
        else:
            self.judge(result, location, kind)
        if self.on_result is not None:
            self.on_result(result)

    def judge(
        self, result: ProbeResult, location: str, kind: str = "", extra: Sequence[Effect] = ()
    ) -> None:
        """The engine's verdict on one result, written with `extra` in one transaction."""
        effects = self.engine.observe(result, location)
        self.writer.submit([*effects, *extra])
        check = self.catalog.checks.get(result.check)
        self.metrics.observe(result, kind or (check.kind if check else ""), location)
        self._publish(effects)
        self.alerting.observe(result, effects)

    def dropped(
        self, check: str, location: str, first: datetime, last: datetime, count: int
    ) -> None:
        """Results a location's worker had to drop: unknown time for that location (§8)."""
        if self.cluster is not None and not self.cluster.member.owns(check.split("/", 1)[0]):
            log.info("dropped results of %s at %s: not this node's partition", check, location)
            return
        effects = self.engine.dropped(check, location, first, last, count)
        self.writer.submit(effects)
        self._publish(effects)

    def _mine(self, effects: list[Effect]) -> list[Effect]:
        return effects if self.cluster is None else self.cluster.mine(effects)

    def _publish(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, ServiceStatusSaved):
                self.metrics.set_service(self.catalog, effect.status)
            elif isinstance(effect, IncidentSaved):
                self.metrics.incident_saved(effect.incident)
                self.store_metrics.poke()

    # ---- periodic work ----------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        await asyncio.to_thread(self.store.record_agent_heartbeat, self.clock.now())
        self._refresh_gauges()

    async def _drain_metrics(self) -> None:
        self._refresh_gauges()
        self.metrics.mark_stale(self.catalog, self.engine.last_seen, self.clock.now())

    def _refresh_gauges(self) -> None:
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

    def _signals(self) -> dict[str, float]:
        """What the agent-health alert rules watch (alerting/rules.yaml, `when: agent`)."""
        return {
            "lateness_p99_seconds": self.lateness_p99,
            "store_write_errors": float(self.writer.errors_total),
            "store_queue_depth": float(self.writer.depth),
            "outbox_backlog": float(self.alerting.backlog),
            "delivery_failures": float(self.alerting.permanent_failures),
            "catalog_reload_failed": 0.0 if self.reload_status.ok else 1.0,
            # AgentUnhealthy fires on it and Watchdog stops (alerting/conditions.py)
            "agent_unhealthy": float(len(self.health_reasons)),
            **{f"unhealthy:{r}": float(r in self.health_reasons) for r in REASONS},
            **self._location_signals(),
            **(self.cluster.signals() if self.cluster is not None else {}),
        }

    def _location_signals(self) -> dict[str, float]:
        """`LocationDown`: worker locations silent for 2 intervals + timeout; `LocationBlind`:
        heard from, but cut off from their connectivity target; `LocationClockSkew` (§8)."""
        limits = silence_limits(self.catalog)
        down = self.locations.down(self.clock.now(), limits)
        signals = {f"{LOCATION_DOWN_PREFIX}{name}": float(name in down) for name in limits}
        skewed = self.locations.skewed()
        blind = tuple(name for name in self.locations.blind() if name not in down)
        for name in self.locations.seen:
            signals[f"{LOCATION_SKEWED_PREFIX}{name}"] = float(name in skewed)
            signals[f"{LOCATION_BLIND_PREFIX}{name}"] = float(name in blind)
        counts = {
            "locations_down": float(len(down)),
            "locations_skewed": float(len(skewed)),
            "locations_blind": float(len(blind)),
        }
        return {**counts, **signals}

    def _build_alerting(self, rules: list[Rule]) -> AlertingService:
        console = self.settings.external_url or f"http://{self.settings.listen}"
        evaluator = AlertEvaluator(
            rules, self.catalog, self.calendar, self.clock,
            self.engine.service_status, self.engine.open_incident,
            signals=self._signals, console_url=console,
            failing_locations_of=self.engine.failing_locations,
        )  # fmt: skip
        member = self.cluster.member if self.cluster is not None else None
        return AlertingService(
            evaluator, self.store, self.settings.alerting, self.clock, cluster=member
        )

    async def _refresh_windows(self) -> None:
        self.calendar.adhoc = await asyncio.to_thread(self.store.windows)

    async def _refresh_beats(self) -> None:
        """Beats of heartbeat checks taken by any node (or before a restart) reach this one's
        book, which its heartbeat probes read: the stored beat is kept when it is newer."""
        if any(c.kind == "heartbeat" for c in self.catalog.checks.values()):
            self.probes.heartbeats.seed(await asyncio.to_thread(self.store.beats))

    async def _prune(self) -> None:
        """Roll up expired results, then compact ok ones (agent/store/retention.py)."""
        settings = self.settings
        await run_retention(
            self.store, self.clock.now, settings.raw_retention_days, settings.retention
        )

    # ---- reload -----------------------------------------------------------------------------

    async def reload(self, path: str | Path | None = None) -> ReloadStatus:
        """Validate the new catalogue whole; keep the old one running if it is invalid."""
        source = path or self.catalog.source or self.settings.catalog
        try:
            settings = await asyncio.to_thread(self._reread_settings)
            locations = settings.location_names
            catalog = await asyncio.to_thread(load, source, None, locations)
            rules = await asyncio.to_thread(load_rules, self.settings.alert_rules)
        except (CatalogError, RulesError) as exc:
            log.error("reload failed, keeping the running catalogue and settings:\n%s", exc)
            self._mark_reload(ok=False, error=str(exc))
            return self.reload_status
        self.settings = settings
        self.catalog = catalog
        self.calendar.catalog = catalog
        if self.cluster is not None:
            self.cluster.member.index(catalog)
        self.writer.submit(self._mine(self.engine.reload(catalog)))
        self.alerting.evaluator.reload(rules, catalog)
        self.metrics.sync_catalog(catalog, self.engine.service_status)
        self.scheduler.sync(catalog)
        self.agent_health.limits = self._health_limits()
        self._mark_reload(ok=True, error="")
        log.info("catalogue reloaded: %d services", len(catalog.services))
        return self.reload_status

    def _reread_settings(self) -> Settings:
        """The running settings with the re-read file's tokens and board flag (a revoked token
        stops working now, with its console sessions); other changes are logged, not applied."""
        if self.reread_settings is None:
            return self.settings
        fresh = self.reread_settings()
        changed = [
            key
            for key in type(fresh).model_fields
            if key not in RELOADABLE_SETTINGS and getattr(fresh, key) != getattr(self.settings, key)
        ]
        if changed:
            log.warning("settings %s changed: they take effect at the next restart", changed)
        update = {key: getattr(fresh, key) for key in RELOADABLE_SETTINGS}
        return self.settings.model_copy(update=update)

    def _mark_reload(self, ok: bool, error: str) -> None:
        self.reload_status = ReloadStatus(ok=ok, error=error, at=self.clock.now())
        self.metrics.mark_reload(ok, self.reload_status.at)

    def health(self) -> dict[str, Any]:
        """What /healthz answers; also refreshes the health gauges (agent/health.py)."""
        report = self.agent_health.judge(
            HealthSample(
                checks=self.scheduler.job_count,
                probes_started=self.scheduler.stats.started_total,
                batches_committed=self.writer.batches_total,
                queue_depth=self.writer.depth,
                store_error=self.writer.last_error,
            )
        )
        self.health_reasons = report.reasons
        self.metrics.set_health(report.reasons, REASONS)
        return {
            "healthy": report.healthy,
            "reasons": list(report.reasons),
            **report.details,
            "checks": self.scheduler.job_count,
            "in_flight": self.scheduler.stats.in_flight,
            "store_queue": self.writer.depth,
            "catalog_reload_ok": self.reload_status.ok,
            "connectivity_ok": self.connectivity.ok,
            "clock_steps": self.scheduler.stats.clock_steps_total,
            "last_clock_step": _step_view(self.scheduler.stats.last_clock_step),
        }


def _step_view(step: ClockStep | None) -> dict[str, Any] | None:
    """The last wall-clock step, for /healthz: when and by how much (probing went on)."""
    return None if step is None else {"at": step.at.isoformat(), "seconds": step.seconds}
