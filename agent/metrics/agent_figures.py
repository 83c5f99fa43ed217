"""The agent's own figures (scheduler and store writer counters), read at scrape time."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from agent.metrics.exposition import MetricKind, metric_family

if TYPE_CHECKING:
    from agent.scheduler import ProbeScheduler
    from agent.store.writer import StoreWriter


class RuntimeCollector(Collector):
    """Scheduler and writer counters, read when scraped (plain ints: safe from any thread)."""

    def __init__(self) -> None:
        self.scheduler: ProbeScheduler | None = None
        self.writer: StoreWriter | None = None

    def collect(self) -> Iterable[Metric]:
        scheduler, writer = self.scheduler, self.writer
        if scheduler is None or writer is None:
            return []
        stats = scheduler.stats
        rows: list[tuple[str, str, MetricKind, float]] = [
            ("vigia_probes_in_flight", "Probes running now.", "gauge", stats.in_flight),
            ("vigia_scheduler_jobs", "Checks scheduled.", "gauge", scheduler.job_count),
            ("vigia_probes_started_total", "Probes started.", "counter", stats.started_total),
            (
                "vigia_probe_overlaps_total",
                "Ticks not started because the check's previous probe still ran.",
                "counter",
                stats.overlaps_total,
            ),
            (
                "vigia_clock_steps_total",
                "Wall-clock steps (either direction) seen; probing kept the monotonic cadence.",
                "counter",
                stats.clock_steps_total,
            ),
            (
                "vigia_clock_last_step_seconds",
                "Size of the last wall-clock step (positive: forward; 0 before any).",
                "gauge",
                stats.last_clock_step.seconds if stats.last_clock_step else 0.0,
            ),
            (
                "vigia_probes_shortened_total",
                "Probes of a host that timed out this round, run with a shortened timeout.",
                "counter",
                stats.shortened_total,
            ),
            (
                "vigia_store_queue_depth",
                "Engine effects submitted and not yet committed by the store writer.",
                "gauge",
                writer.depth,
            ),
            (
                "vigia_store_write_errors_total",
                "Failed store commits (retried, or quarantined if refused as data).",
                "counter",
                writer.errors_total,
            ),
            (
                "vigia_store_quarantined_total",
                "Effects the database refused as data, kept in the quarantine table.",
                "counter",
                writer.quarantined_total,
            ),
            (
                "vigia_store_batches_total",
                "Store batches committed.",
                "counter",
                writer.batches_total,
            ),
            (
                "vigia_store_last_write_duration_seconds",
                "Duration of the last committed store batch.",
                "gauge",
                writer.last_write_seconds,
            ),
        ]
        families: list[Metric] = []
        for name, doc, kind, value in rows:
            family = metric_family(name, doc, kind, ())
            family.add_metric([], float(value))
            families.append(family)
        return families

    def describe(self) -> Iterable[Metric]:
        # the names, so a clash with another collector fails at registration
        names = ("vigia_probes_in_flight", "vigia_scheduler_jobs", "vigia_store_queue_depth")
        return [metric_family(n, "", "gauge", ()) for n in names]
