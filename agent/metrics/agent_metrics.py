"""Prometheus metrics of the running agent, on an injected registry (no globals).

Two shapes of metric live on the registry:

- ordinary prometheus_client metrics for the few small families (histograms by kind, phase and
  tier, the agent's own figures, the process collector);
- `LineFamily` for the per-service and per-check series, tens of thousands at 10,000 services.
  Each series keeps its exposition line rendered, and re-renders it only when its value is set,
  so a scrape joins strings instead of formatting every sample (`generate_latest` spends
  ~10 us per sample: over a second at 10,000 services).

`AgentMetrics.render()` is the fast exposition. `generate_latest(registry)` yields the same
samples, only slower, so any other consumer of the registry sees everything.
"""

from __future__ import annotations

import io
import platform
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from agent.catalog.model import LOCAL, Catalog, Service
from agent.metrics.agent_figures import RuntimeCollector
from agent.metrics.exposition import FastCollector, FastPath, LineFamily, MetricKind
from agent.metrics.series import (
    CHECK_LABELS,
    SERVICE_LABELS,
    STATES,
    CheckSeries,
    ServiceSeries,
    service_labels,
)
from agent.records import Incident, ServiceStatus, State
from agent.staleness import is_stale
from checks.result import Outcome, ProbeResult

if TYPE_CHECKING:
    from agent.scheduler import ProbeScheduler
    from agent.store.writer import StoreWriter


LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RESTORE_BUCKETS = tuple(60.0 * m for m in (1, 5, 10, 20, 30, 35, 45, 60, 120, 240, 480, 1440))

# measurement key -> phase, per probe kind (checks/http.py, tls.py, tcp.py, dns.py)
PHASES: dict[str, tuple[tuple[str, str], ...]] = {
    "http": (
        ("phase_connect", "connect"),  # includes the name lookup (httpcore resolves inside)
        ("phase_tls", "tls"),
        ("phase_processing", "processing"),
        ("phase_transfer", "transfer"),
    ),
    "tls": (("connect_time", "connect"), ("handshake_time", "tls")),
    "tcp": (("connect_time", "connect"),),
    "dns": (("query_time", "dns"),),
}
RESTORED_REMEMBERED = 10_000  # incident ids whose restore time was observed (observe once)


def build_version() -> str:
    try:
        return version("vigia")
    except PackageNotFoundError:
        return "unknown"


class AgentMetrics:
    """Every metric of the agent, fed by the runtime; `render()` is the /metrics body."""

    def __init__(self, registry: CollectorRegistry, *, process: bool = True) -> None:
        self.registry = registry
        self.fast = FastPath()
        self._fast: list[FastCollector] = []
        self._services: dict[str, ServiceSeries] = {}
        self._checks: dict[str, CheckSeries] = {}
        self._phase_children: dict[tuple[str, str], Histogram] = {}
        self._restored: dict[int, None] = {}
        self._lines()
        self._histograms()
        self._agent_gauges(process)

    def _line(
        self, name: str, doc: str, labels: Sequence[str], kind: MetricKind = "gauge"
    ) -> LineFamily:
        family = LineFamily(name, doc, labels, self.fast, kind)
        self.add_fast(family)
        return family

    def add_fast(self, collector: FastCollector) -> None:
        """Register a collector that renders its own text (see `render`)."""
        self.registry.register(collector)
        self._fast.append(collector)

    def _lines(self) -> None:
        svc, chk = SERVICE_LABELS, CHECK_LABELS
        self.service_up = self._line(
            "vigia_service_up", "1 when the service is UP or DEGRADED, 0 when DOWN.", svc
        )
        self.service_state = self._line(
            "vigia_service_state",
            "1 for the service's current state (up, degraded, down, unknown), 0 for the others.",
            (*svc, "state"),
        )
        self.service_flapping = self._line(
            "vigia_service_flapping", "1 while the service is flapping.", svc
        )
        self.service_stale = self._line(
            "vigia_service_stale",
            "1 while the service's newest result is older than its silence threshold "
            "(2 x interval + timeout): its state is the last known one, not a live one.",
            svc,
        )
        self.check_success = self._line(
            "vigia_check_success", "1 if the last known probe result was ok or degraded.", chk
        )
        self.check_location_success = self._line(
            "vigia_check_location_success",
            "1 if the last known probe result from the location was ok or degraded "
            "(location: `local` for the core's own probes, else a configured worker).",
            (*chk, "location"),
        )
        self.check_results = self._line(
            "vigia_check_results_total", "Probe results by outcome.", (*chk, "result"), "counter"
        )
        self.check_last_duration = self._line(
            "vigia_check_last_duration_seconds",
            "Duration of the check's last probe, whole (phase=total) and by phase.",
            (*chk, "phase"),
        )
        self.tls_expiry = self._line(
            "vigia_tls_cert_expiry_timestamp_seconds",
            "notAfter of the certificate the check last saw.",
            chk,
        )

    def _histograms(self) -> None:
        self.duration = Histogram(
            "vigia_check_duration_seconds",
            "Probe duration by check kind, whole (phase=total) and by phase.",
            ["kind", "phase"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.restore = Histogram(
            "vigia_restore_duration_seconds",
            "Restoration time of closed incidents (tempo de reposição), by tier.",
            ["tier"],
            buckets=RESTORE_BUCKETS,
            registry=self.registry,
        )
        self.lateness = Histogram(
            "vigia_probe_start_lateness_seconds",
            "Probe start delay after its due time.",
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )

    def _agent_gauges(self, process: bool) -> None:
        reg = self.registry
        self._runtime = RuntimeCollector()
        reg.register(self._runtime)
        self.outbox_backlog = Gauge(
            "vigia_alert_outbox_backlog",
            "Notifications waiting in the alert outbox (set by the alerting outbox).",
            registry=reg,
        )
        self.alerts_firing = Gauge(
            "vigia_alerts_firing",
            "Alerts firing now (set by the alerting evaluator).",
            registry=reg,
        )
        self.reload_success = Gauge(
            "vigia_catalog_reload_success",
            "1 if the last catalogue (re)load succeeded.",
            registry=reg,
        )
        self.reload_time = Gauge(
            "vigia_catalog_reload_timestamp_seconds",
            "Time of the last catalogue (re)load attempt.",
            registry=reg,
        )
        self.agent_healthy = Gauge(
            "vigia_agent_healthy",
            "1 if the agent is probing and recording (what /healthz says), else 0.",
            registry=reg,
        )
        self.unhealthy_reason = Gauge(
            "vigia_agent_unhealthy_reason",
            "1 for each reason the agent is unhealthy now (agent/health.py), else 0.",
            ["reason"],
            registry=reg,
        )
        info = Info("vigia_build", "Build of the agent.", registry=reg)
        info.info({"version": build_version(), "python_version": platform.python_version()})
        if process:
            ProcessCollector(registry=reg)
            PlatformCollector(registry=reg)

    # ---- exposition ---------------------------------------------------------------------------

    def render(self) -> bytes:
        """The /metrics body: `generate_latest` for the ordinary metrics, then the fast text."""
        self.fast.active = True
        try:
            head = generate_latest(self.registry)
        finally:
            self.fast.active = False
        # One buffer the families are written into, handed out without a copy: joining every
        # family's text, encoding the whole and prepending the head held the ~25 MB body
        # twice at 10,000 services, a peak in the agent's RSS at every scrape (#18 item 4).
        body = io.BytesIO()
        body.write(head)
        for collector in self._fast:
            body.write(collector.render().encode())
        return body.getvalue()

    # ---- fed by the runtime -------------------------------------------------------------------

    def watch(self, scheduler: ProbeScheduler, writer: StoreWriter) -> None:
        self._runtime.scheduler, self._runtime.writer = scheduler, writer

    def set_health(self, reasons: Iterable[str], known: Iterable[str]) -> None:
        now = set(reasons)
        self.agent_healthy.set(0 if now else 1)
        for reason in known:  # every reason always exported, so a 1 -> 0 is seen
            self.unhealthy_reason.labels(reason=reason).set(1 if reason in now else 0)

    def observe(self, result: ProbeResult, kind: str, location: str = LOCAL) -> None:
        series = self._checks.get(result.check)
        if series is None or series.kind != kind:
            series = self._check(result, kind)
        outcome = result.outcome
        series.results[outcome.value].inc()
        if outcome is not Outcome.UNKNOWN:
            success = 0.0 if outcome is Outcome.FAIL else 1.0
            series.success.set(success)
            series.location_success(location).set(success)
        self._observe_phase(series, kind, "total", result.duration)
        measurements = result.measurements
        if not measurements:
            return
        for key, phase in PHASES.get(kind, ()):
            value = measurements.get(key)
            if isinstance(value, float | int) and not isinstance(value, bool):
                self._observe_phase(series, kind, phase, float(value))
        not_after = measurements.get("not_after")
        if isinstance(not_after, str):
            series.set_expiry(not_after)

    def _check(self, result: ProbeResult, kind: str) -> CheckSeries:
        old = self._checks.pop(result.check, None)
        if old is not None:
            old.drop()
        series = self._checks[result.check] = CheckSeries(self, result.service, result.check, kind)
        return series

    def _observe_phase(self, series: CheckSeries, kind: str, phase: str, seconds: float) -> None:
        child = self._phase_children.get((kind, phase))
        if child is None:
            child = self._phase_children[(kind, phase)] = self.duration.labels(kind, phase)
        child.observe(seconds)
        series.last_duration(phase).set(seconds)

    def set_service(self, catalog: Catalog, status: ServiceStatus) -> None:
        series = self._services.get(status.service)
        if series is None:
            svc = catalog.by_id.get(status.service)
            if svc is None or not svc.monitored:
                return
            series = self._service(svc)
        state = status.state.value
        if state != series.state:
            series.state = state
            for name, child in series.states.items():
                child.set(1.0 if name == state else 0.0)
            if status.state is State.UNKNOWN:
                self.service_up.remove(*series.labels)
            else:
                series.up = self.service_up.series(*series.labels)
                series.up.set(0.0 if status.state is State.DOWN else 1.0)
        series.flapping.set(1.0 if status.flapping else 0.0)

    def mark_stale(
        self, catalog: Catalog, last_seen: Callable[[str], datetime | None], now: datetime
    ) -> None:
        """Set every monitored service's stale flag (a periodic pass, not per result)."""
        for sid, series in self._services.items():
            svc = catalog.by_id.get(sid)
            if svc is not None:
                series.stale.set(1.0 if is_stale(svc, last_seen(sid), now) else 0.0)

    def _service(self, svc: Service) -> ServiceSeries:
        series = self._services[svc.id] = ServiceSeries(self, service_labels(svc))
        return series

    def sync_catalog(self, catalog: Catalog, statuses: Callable[[str], ServiceStatus]) -> None:
        """After a (re)load: drop series of removed or unmonitored services and checks,
        re-label changed ones, and show every monitored service's current state."""
        wanted = {s.id: s for s in catalog.monitored}
        for sid in list(self._services):
            svc = wanted.get(sid)
            if svc is None or service_labels(svc) != self._services[sid].labels:
                self._forget_service(sid)
        checks = {c.id for s in wanted.values() for c in s.checks}
        for check_id in [c for c in self._checks if c not in checks]:
            self._checks.pop(check_id).drop()
        for svc in wanted.values():
            self.set_service(catalog, statuses(svc.id))
        for tier in catalog.tiers:  # zero-initialised, so a first restore is not lost to rate()
            self.restore.labels(tier)

    def _forget_service(self, service: str) -> None:
        series = self._services.pop(service)
        self.service_up.remove(*series.labels)
        self.service_flapping.remove(*series.labels)
        self.service_stale.remove(*series.labels)
        for state in STATES:
            self.service_state.remove(*series.labels, state)

    def incident_saved(self, incident: Incident) -> None:
        """Observe the restore time once, when the incident is first seen closed."""
        if incident.ended_at is None or incident.id in self._restored:
            return
        self._restored[incident.id] = None
        if len(self._restored) > RESTORED_REMEMBERED:
            del self._restored[next(iter(self._restored))]
        seconds = incident.restore_seconds
        if seconds is None:
            elapsed = (incident.ended_at - incident.started_at).total_seconds()
            seconds = elapsed - incident.maintenance_seconds
        self.restore.labels(incident.tier).observe(max(0.0, seconds))

    def mark_reload(self, ok: bool, at: datetime | None) -> None:
        self.reload_success.set(1 if ok else 0)
        self.reload_time.set(at.timestamp() if at else 0)
