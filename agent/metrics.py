"""Prometheus metrics of the running agent, on an injected registry (no globals)."""

from __future__ import annotations

import contextlib
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from agent.catalog.model import Catalog
from agent.records import ServiceStatus, State
from checks.result import Outcome, ProbeResult

LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def build_version() -> str:
    try:
        return version("vigia")
    except PackageNotFoundError:
        return "unknown"


class AgentMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        service_labels = ["service", "tier", "macro_service", "pcn"]
        self.results = Counter(
            "vigia_check_results",
            "Probe results by outcome.",
            ["service", "check", "kind", "result"],
            registry=registry,
        )
        self.check_success = Gauge(
            "vigia_check_success",
            "1 if the last probe result was ok or degraded.",
            ["service", "check", "kind"],
            registry=registry,
        )
        self.duration = Histogram(
            "vigia_check_duration_seconds",
            "Probe duration.",
            ["kind"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.service_up = Gauge(
            "vigia_service_up",
            "1 when the service is UP or DEGRADED, 0 when DOWN.",
            service_labels,
            registry=registry,
        )
        self.lateness = Histogram(
            "vigia_probe_start_lateness_seconds",
            "Probe start delay after its due time.",
            buckets=LATENESS_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge("vigia_probes_in_flight", "Probes running.", registry=registry)
        self.overlaps = Gauge(
            "vigia_probe_overlaps",
            "Ticks skipped since start because the probe still ran.",
            registry=registry,
        )
        self.jobs = Gauge("vigia_scheduler_jobs", "Scheduled checks.", registry=registry)
        self.queue_depth = Gauge(
            "vigia_store_queue_depth", "Effects waiting for the store writer.", registry=registry
        )
        self.store_errors = Gauge(
            "vigia_store_write_errors",
            "Failed store commits since start (retried).",
            registry=registry,
        )
        self.reload_success = Gauge(
            "vigia_catalog_reload_success",
            "1 if the last catalogue (re)load succeeded.",
            registry=registry,
        )
        self.reload_time = Gauge(
            "vigia_catalog_reload_timestamp_seconds",
            "Time of the last catalogue (re)load.",
            registry=registry,
        )
        info = Gauge("vigia_build_info", "Build of the agent.", ["version"], registry=registry)
        info.labels(version=build_version()).set(1)

    def observe(self, result: ProbeResult, kind: str) -> None:
        service, check = result.service, result.check
        self.results.labels(service, check, kind, result.outcome.value).inc()
        if result.outcome is not Outcome.UNKNOWN:
            good = result.outcome in (Outcome.OK, Outcome.DEGRADED)
            self.check_success.labels(service, check, kind).set(1 if good else 0)
        self.duration.labels(kind).observe(result.duration)

    def set_service(self, catalog: Catalog, status: ServiceStatus) -> None:
        svc = catalog.by_id.get(status.service)
        if svc is None or status.state is State.UNKNOWN:
            return
        labels = (svc.id, svc.tier, svc.macro_service, str(svc.pcn).lower())
        self.service_up.labels(*labels).set(0 if status.state is State.DOWN else 1)

    def forget_service(self, catalog: Catalog, service: str) -> None:
        svc = catalog.by_id.get(service)
        if svc is not None:
            labels = (svc.id, svc.tier, svc.macro_service, str(svc.pcn).lower())
            with contextlib.suppress(KeyError):
                self.service_up.remove(*labels)
