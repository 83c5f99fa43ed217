"""One view of the probe locations, for the API (`GET /api/v1/locations`) and the board's
locations panel: what the core heard from each worker, whether it is down (silent for 2 x
interval + timeout), and the checks failing there but not at the quorum (semantics.md §8)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from agent.catalog.model import LOCAL, Catalog, Service
from agent.locations.book import LocationBook, silence_limits

FailingLocations = Callable[[str], tuple[str, ...]]  # check id -> locations failing below quorum


@dataclass(frozen=True, slots=True)
class LocationRow:
    name: str
    last_seen: datetime | None
    clock_offset: float | None
    version: str
    spool_depth: int | None  # the worker's backlog at its newest batch
    results: int
    duplicates: int
    dropped: int
    rejected: int
    down: bool
    checks: int
    failing_below_quorum: tuple[str, ...]


def location_rows(
    catalog: Catalog, book: LocationBook, failing_of: FailingLocations, now: datetime
) -> list[LocationRow]:
    down = set(book.down(now, silence_limits(catalog)))
    failing: dict[str, list[str]] = {}
    runs: dict[str, int] = {}
    for check in catalog.checks.values():
        for name in check.locations:
            runs[name] = runs.get(name, 0) + 1
        for name in failing_of(check.id):
            failing.setdefault(name, []).append(check.id)
    return [
        LocationRow(
            name=name,
            last_seen=seen.last_seen,
            clock_offset=seen.clock_offset,
            version=seen.version,
            spool_depth=seen.spool_depth,
            results=seen.results,
            duplicates=seen.duplicates,
            dropped=seen.dropped,
            rejected=seen.rejected,
            down=name in down and name != LOCAL,
            checks=runs.get(name, 0),
            failing_below_quorum=tuple(sorted(failing.get(name, []))),
        )
        for name, seen in book.seen.items()
    ]


def failing_at(service: Service, failing_of: FailingLocations) -> tuple[str, ...]:
    """The locations where some check of the service fails below the quorum: shown on its
    tile, since the service's own state does not say it."""
    return tuple(sorted({name for check in service.checks for name in failing_of(check.id)}))
