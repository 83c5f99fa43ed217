"""What the core knows of each location's worker: when it was last heard from, its clock
offset and version, and what it sent; with the `vigia_location_*` metrics.

The `location` label takes only configured names (and `local`), so it stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge

from agent.catalog.model import LOCAL, Catalog


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
    refused_at: datetime | None = None  # the newest batch refused for its clock offset
    refused_offset: float | None = None
    blind: str = ""  # why its own connectivity check fails, as its newest batch said; "" sees
    spool_depth: int | None = None  # results in its spool at its newest batch (None: unknown)

    @property
    def skewed(self) -> bool:
        """Its newest batch was refused for its clock: nothing it probes is being recorded."""
        refused = self.refused_at
        return refused is not None and (self.last_seen is None or refused > self.last_seen)


def silence_limits(catalog: Catalog) -> dict[str, float]:
    """Per worker location with checks, how long without a batch it may stay before it is
    down (`LocationDown`): 2 x its shortest check interval + its longest timeout."""
    limits: dict[str, tuple[float, float]] = {}
    for check in catalog.checks.values():
        for name in check.locations:
            if name == LOCAL:
                continue
            interval, timeout = limits.get(name, (check.interval, check.timeout))
            limits[name] = (min(interval, check.interval), max(timeout, check.timeout))
    return {name: 2 * interval + timeout for name, (interval, timeout) in limits.items()}


class LocationBook:
    def __init__(
        self, registry: CollectorRegistry, names: tuple[str, ...], started: datetime
    ) -> None:
        self.started = started  # a location never heard from is down once its limit passed
        self.seen = {name: LocationSeen(name) for name in names}
        self._last_seen = Gauge(
            "vigia_location_last_seen_timestamp_seconds",
            "When the core last received a batch from the location's worker.",
            ["location"],
            registry=registry,
        )
        self._spool = Gauge(
            "vigia_location_spool_depth",
            "Results waiting in the location's worker spool at its last batch.",
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

    def heard(
        self,
        name: str,
        at: datetime,
        offset: float,
        version: str,
        blind: str = "",
        spool_depth: int | None = None,
    ) -> None:
        seen = self.seen[name]
        seen.last_seen, seen.clock_offset, seen.version = at, offset, version
        seen.blind, seen.spool_depth = blind, spool_depth
        if spool_depth is not None:
            self._spool.labels(name).set(spool_depth)
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

    def restore_dropped(self, counts: dict[str, int]) -> None:
        """At start: what the workers' spools dropped before, as stored (`dropped_results`),
        so the counts and `vigia_location_dropped_results` do not reset with the core."""
        for name, count in counts.items():
            seen = self.seen.get(name)
            if seen is None or count <= 0:
                continue  # a location no longer configured: its label stays bounded
            seen.dropped += count
            self._dropped.labels(name).inc(count)

    def rejected(self, name: str, reason: str) -> None:
        self.seen[name].rejected += 1
        self._rejected.labels(name, reason).inc()

    def refused_for_skew(self, name: str, at: datetime, offset: float) -> None:
        seen = self.seen[name]
        seen.refused_at, seen.refused_offset = at, offset
        self.rejected(name, "clock_offset")

    def blind(self) -> tuple[str, ...]:
        """Locations whose worker says it cannot reach its connectivity target: its results
        are unknown, so the checks it runs are judged by the other locations only."""
        return tuple(sorted(name for name, seen in self.seen.items() if seen.blind))

    def skewed(self) -> tuple[str, ...]:
        return tuple(sorted(name for name, seen in self.seen.items() if seen.skewed))

    def down(self, now: datetime, limits: dict[str, float]) -> tuple[str, ...]:
        """Worker locations without a batch for longer than their limit (silence_limits)."""
        found = []
        for name, limit in sorted(limits.items()):
            seen = self.seen.get(name)
            last = seen.last_seen if seen is not None and seen.last_seen else self.started
            if (now - last).total_seconds() > limit:
                found.append(name)
        return tuple(found)
