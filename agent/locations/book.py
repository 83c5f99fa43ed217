"""What the core knows of each location's worker: when it was last heard from, its clock
offset and version, and what it sent; with the `vigia_location_*` metrics.

The `location` label takes only configured names (and `local`), so it stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class LocationSeen:
    name: str
    last_seen: datetime | None = None
    clock_offset: float | None = None  # core clock - worker clock, seconds, at the last batch
    version: str = ""
    results: int = 0
    duplicates: int = 0
    dropped: int = 0  # results the worker's spool had to drop (unknown time)
    rejected: int = 0  # batches refused (clock skew)


class LocationBook:
    def __init__(self, registry: CollectorRegistry, names: tuple[str, ...]) -> None:
        self.seen = {name: LocationSeen(name) for name in names}
        self._last_seen = Gauge(
            "vigia_location_last_seen_timestamp_seconds",
            "When the core last received a batch from the location's worker.",
            ["location"],
            registry=registry,
        )
        self._offset = Gauge(
            "vigia_location_clock_offset_seconds",
            "Core clock minus the worker's clock at its last batch.",
            ["location"],
            registry=registry,
        )
        self._results = Counter(
            "vigia_location_results_received",
            "Probe results received from the location's worker, by whether they were new.",
            ["location", "stored"],
            registry=registry,
        )
        self._dropped = Counter(
            "vigia_location_dropped_results",
            "Results the location's worker reported dropped from its full spool.",
            ["location"],
            registry=registry,
        )
        self._rejected = Counter(
            "vigia_location_batches_rejected",
            "Batches refused from the location's worker, by reason.",
            ["location", "reason"],
            registry=registry,
        )

    def heard(self, name: str, at: datetime, offset: float, version: str) -> None:
        seen = self.seen[name]
        seen.last_seen, seen.clock_offset, seen.version = at, offset, version
        self._last_seen.labels(name).set(at.timestamp())
        self._offset.labels(name).set(offset)

    def received(self, name: str, new: int, duplicates: int, dropped: int) -> None:
        seen = self.seen[name]
        seen.results += new
        seen.duplicates += duplicates
        seen.dropped += dropped
        self._results.labels(name, "new").inc(new)
        self._results.labels(name, "duplicate").inc(duplicates)
        self._dropped.labels(name).inc(dropped)

    def rejected(self, name: str, reason: str) -> None:
        self.seen[name].rejected += 1
        self._rejected.labels(name, reason).inc()
