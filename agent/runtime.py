"""The running agent: scheduler -> probes -> engine -> store writer, metrics and HTTP server,
all on one asyncio loop. Blocking work (SQL) goes to threads through the writer.

`Agent(...)` builds every part, reading nothing; `async with agent:` reads the state kept in
the store and starts the parts in order, each registering its own cleanup on one
`AsyncExitStack`, so the shutdown runs in the reverse order (`run` does both).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from agent.access.failures import AuthFailures
from agent.agent_view import ReloadStatus, ResultHook
from agent.alert_signals import location_signals
from agent.catalog.errors import CatalogError
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
from agent.health import REASONS, AgentHealth, healthz, limits_for, sample_of
from agent.lifecycle import Phase, Tasks
from agent.locations.book import LocationBook
from agent.maintenance import MaintenanceCalendar
from agent.metrics import AgentMetrics
from agent.month_to_date import MonthToDate
from agent.parts import build_alerting, build_reports, build_store_metrics
from agent.records import Effect, IncidentSaved, ResultPending, ServiceStatusSaved
from agent.reload import SettingsSource, read_reload
from agent.scheduler import ProbeScheduler
from agent.server import create_app, serve
from agent.settings import Settings, split_host_port
from agent.store.sql import SqlStore
from agent.store.writer import RETRY_MAX as WRITER_RETRY_MAX
from agent.store.writer import StoreWriter
from agent.upkeep import Upkeep
from alerting.errors import RulesError
from checks.clock import Clock
from checks.context import ProbeContext
from checks.periodic import every
from checks.result import ProbeResult
from checks.runner import run_probe

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)

WINDOW_REFRESH_SECONDS = 30.0
BEATS_REFRESH_SECONDS = 2.0  # a beat taken by another node is seen by the check's owner
PRUNE_EVERY_SECONDS = 3600.0
CONNECTIVITY_EVERY_SECONDS = 10.0
HEALTH_EVERY_SECONDS = 5.0  # the health gauges move without a /healthz request
METRICS_DRAIN_SECONDS = 5.0  # probe lateness samples -> histogram


@dataclass
class Agent:
    settings: Settings
    catalog: Catalog
    store: SqlStore  # the one implementation of the Store contract (SQLite, PostgreSQL)
    clock: Clock
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    serve_http: bool = True
    reread_settings: SettingsSource | None = None  # a reload re-reads tokens through this

    def __post_init__(self) -> None:
        """Every part, built before anything starts: none reads the store or the network."""
        self.phase = Phase.BUILT
        self.metrics = AgentMetrics(self.registry)
        self.month_to_date = MonthToDate(self.clock)  # computed by store_metrics, read by all
        self.auth_failures = AuthFailures(self.clock.monotonic, self.registry)
        self.probes = ProbeContext.create(self.clock)
        target = self.settings.connectivity_check
        self.connectivity = Connectivity(split_host_port(target) if target else None)
        self.reload_status = ReloadStatus(at=self.clock.now())
        self.stop = asyncio.Event()
        self.started = asyncio.Event()  # every part built and running
        self.fatal: Exception | None = None
        self.health_reasons: tuple[str, ...] = ()
        self.locations = LocationBook(self.registry, self.settings.location_names, self.clock.now())
        self._subscribers: list[ResultHook] = []
        self._tasks = Tasks()
        self._stack = contextlib.AsyncExitStack()
        self._build_parts()
        self.app: FastAPI | None = None
        if self.serve_http:
            self.app = create_app(self.metrics.render, self.health, agent=self)

    def _build_parts(self) -> None:
        """The probe path (scheduler -> engine -> writer, alerting) and what reads it."""
        config = lease_config(self.settings)
        self.cluster = ClusterNode(self, config) if config is not None else None  # §9
        member = self.cluster.member if self.cluster is not None else None
        allow_retroactive = self.settings.allow_retroactive_maintenance
        self.calendar = MaintenanceCalendar(self.catalog, [], allow_retroactive)  # windows: start
        self.incident_ids = IncidentIds(self.store.reserve_ids, self.store.give_back_ids)
        self.engine = Engine(self.catalog, self.calendar, None, self.incident_ids)
        retry_max = self.cluster.writer_retry_max if self.cluster else WRITER_RETRY_MAX
        self.writer = StoreWriter(
            self.store, fencing=member.fencing if member else None, retry_max=retry_max
        )
        self.alerting = build_alerting(
            self.settings, self.catalog, self.calendar, self.clock, self.engine, self.store,
            self._signals, member,
        )  # fmt: skip
        self.scheduler = ProbeScheduler(
            self._probe,
            self.clock,
            self.settings.max_in_flight,
            self.settings.max_per_host,
            on_clock_step=self._record_clock_step,
        )
        catalog, settings = (lambda: self.catalog), (lambda: self.settings)
        self.store_metrics = build_store_metrics(
            self.store, catalog, settings, self.calendar, self.clock, self.metrics,
            self.month_to_date,
        )  # fmt: skip
        self.reports = build_reports(settings, self.store, self.clock, catalog, self.calendar)
        self.agent_health = AgentHealth(self.clock.monotonic, limits_for(self.catalog))
        self.upkeep = Upkeep(
            self.store, self.clock, catalog, settings, self.calendar,
            self.probes, self.metrics, self.scheduler, self.engine, self.alerting,
        )  # fmt: skip

    @property
    def running(self) -> bool:
        """The engine, the calendar and the alerting hold the live state (else: the store's)."""
        return self.phase.live

    def subscribe(self, hook: ResultHook) -> Callable[[], None]:
        """`hook` sees every probe result after the engine; the return value unsubscribes."""
        self._subscribers.append(hook)
        return lambda: self._subscribers.remove(hook)

    # ---- lifecycle --------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until `stop` is set, then drain in-flight probes and the writer."""
        async with self:
            await self.stop.wait()
        if self.fatal is not None:
            raise self.fatal

    async def __aenter__(self) -> Agent:
        self.phase = Phase.STARTING
        try:
            async with contextlib.AsyncExitStack() as stack:  # a failed start undoes its steps
                await self._start(stack)
                self._stack = stack.pop_all()
        except BaseException:
            self.phase = Phase.STOPPED
            raise
        self.phase = Phase.RUNNING
        log.info("vigia running: %d checks, store %r", self.scheduler.job_count, self.store)
        self.started.set()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.phase = Phase.STOPPING
        self.stop.set()
        try:
            await self._stack.aclose()
        finally:
            self.phase = Phase.STOPPED
        log.info("vigia stopped cleanly")

    async def _start(self, stack: contextlib.AsyncExitStack) -> None:
        """Each step registers its cleanup as it starts: they run in the reverse order."""
        stack.push_async_callback(self.probes.aclose)
        await self._restore()
        await asyncio.to_thread(self.incident_ids.prefetch)
        stack.push_async_callback(asyncio.to_thread, self.incident_ids.close)  # after the last
        if self.cluster is not None:  # the leases go after the writer's last fenced commit
            stack.push_async_callback(self.cluster.stop)
        await stack.enter_async_context(self.writer)
        await self.alerting.start()
        stack.push_async_callback(self.alerting.aclose)
        stack.push_async_callback(self._tasks.aclose)  # every periodic task below
        if self.cluster is not None:
            await self.cluster.start()  # gained partitions are adopted by the running alerting
            self._every(DRAIN_EVERY_SECONDS, self.cluster.drain_pending)
            self._every(self.cluster.health_every, self.cluster.refresh_health)
        await self.upkeep.refresh_beats()  # beats from before a restart, before the first probe
        self.scheduler.start(self.catalog)
        stack.push_async_callback(self._stop_probing)
        self._start_background()

    def _start_background(self) -> None:
        """The tasks beside the probe path (cancelled together, after the last probe)."""
        self._start_metrics()
        if self.reports is not None:
            self._tasks.spawn(self.reports.run())
        self._mark_reload(ok=True, error="")
        self.metrics.set_health((), REASONS)
        self._every(HEALTH_EVERY_SECONDS, self._judge_health)
        self._every(self.settings.agent_heartbeat, self.upkeep.heartbeat)
        self._every(WINDOW_REFRESH_SECONDS, self.upkeep.refresh_windows)
        self._every(BEATS_REFRESH_SECONDS, self.upkeep.refresh_beats)
        self._every(PRUNE_EVERY_SECONDS, self.upkeep.prune)
        if self.connectivity.target:
            self._every(CONNECTIVITY_EVERY_SECONDS, self.connectivity.refresh)
        if self.app is not None:
            answer = self.app.state.vigia_status.answer  # the status page, from memory
            serving = serve(self.app, self.settings.listen, self.stop, self.settings, answer)
            self._tasks.spawn(self._fatal_on_error(serving))

    async def _restore(self) -> None:
        """The state kept in the store. A cluster node starts owning nothing: each partition's
        state is read when it is claimed (agent/cluster/wiring.py)."""
        await self.upkeep.refresh_windows()
        self.locations.restore_dropped(await asyncio.to_thread(self.store.dropped_counts))
        if self.cluster is None:
            snapshot = await asyncio.to_thread(self.store.load_snapshot)
            self.engine.adopt(snapshot, self.catalog.by_id)

    async def _stop_probing(self) -> None:
        """No new probe; in-flight ones finish (or time out); the engine's last statuses."""
        grace = max((c.timeout for c in self.catalog.checks.values()), default=10.0) + 1.0
        await self.scheduler.shutdown(grace)
        self.writer.submit(self._mine(self.engine.shutdown(self.clock.now())))

    async def _fatal_on_error(self, work: Awaitable[None]) -> None:
        """A part the agent cannot run without (its HTTP listener) stops the whole agent."""
        try:
            await work
        except Exception as exc:
            self.fatal = exc
            self.stop.set()

    def _every(self, seconds: float, action: Callable[[], Awaitable[object]]) -> None:
        self._tasks.spawn(every(seconds, action))

    def _start_metrics(self) -> None:
        self.metrics.watch(self.scheduler, self.writer)
        self.metrics.sync_catalog(self.catalog, self.engine.service_status)
        self.metrics.add_fast(self.store_metrics)
        self._tasks.spawn(self.store_metrics.run())
        self._every(METRICS_DRAIN_SECONDS, self.upkeep.drain_metrics)

    async def _judge_health(self) -> None:
        self.health()

    # ---- the probe path ---------------------------------------------------------------------

    async def _probe(self, check: Check, due: datetime) -> None:
        if self.cluster is not None and not self.cluster.member.holds(check.service):
            return  # another node's partition: its owner probes it
        result = await run_probe(check.id, check.kind, check.spec, check.timeout, self.probes)
        self.observe(self.connectivity.judge(result), check.kind)

    def _record_clock_step(self, step: ClockStep) -> None:
        self._tasks.spawn(self.upkeep.record_clock_step(step))

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
        for hook in self._subscribers:
            hook(result)

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

    # ---- what the alert rules watch ---------------------------------------------------------

    def _signals(self) -> dict[str, float]:
        """What the agent-health alert rules watch (alerting/rules.yaml, `when: agent`)."""
        return {
            "lateness_p99_seconds": self.upkeep.lateness_p99,
            "store_write_errors": float(self.writer.errors_total),
            "store_queue_depth": float(self.writer.depth),
            "outbox_backlog": float(self.alerting.backlog),
            "delivery_failures": float(self.alerting.permanent_failures),
            "catalog_reload_failed": 0.0 if self.reload_status.ok else 1.0,
            # AgentUnhealthy fires on it and Watchdog stops (alerting/conditions.py)
            "agent_unhealthy": float(len(self.health_reasons)),
            **{f"unhealthy:{r}": float(r in self.health_reasons) for r in REASONS},
            **location_signals(self.catalog, self.locations, self.clock.now()),
            **(self.cluster.signals() if self.cluster is not None else {}),
        }

    async def _refresh_windows(self) -> None:
        await self.upkeep.refresh_windows()  # every 30 s; tests call it to see a window now

    # ---- reload -----------------------------------------------------------------------------

    async def reload(self, path: str | Path | None = None) -> ReloadStatus:
        """Validate the new catalogue whole; keep the old one running if it is invalid."""
        source = path or self.catalog.source or self.settings.catalog
        try:
            settings, catalog, rules = await read_reload(
                source, self.settings, self.reread_settings
            )
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
        self.agent_health.limits = limits_for(catalog)
        self._mark_reload(ok=True, error="")
        log.info("catalogue reloaded: %d services", len(catalog.services))
        return self.reload_status

    def _mark_reload(self, ok: bool, error: str) -> None:
        self.reload_status = ReloadStatus(ok=ok, error=error, at=self.clock.now())
        self.metrics.mark_reload(ok, self.reload_status.at)

    def health(self) -> dict[str, Any]:
        """What /healthz answers; also refreshes the health gauges (agent/health.py)."""
        report = self.agent_health.judge(sample_of(self.scheduler, self.writer))
        self.health_reasons = report.reasons
        self.metrics.set_health(report.reasons, REASONS)
        return healthz(
            report, self.scheduler, self.writer,
            reload_ok=self.reload_status.ok, connectivity_ok=self.connectivity.ok,
        )  # fmt: skip
