"""The store contract: what the engine, the writer and every reader may ask of storage.

One SQL implementation (`agent.store.sql.SqlStore`) serves SQLite and PostgreSQL; the same
contract test suite runs on both. All methods are blocking: call them from a thread
(`asyncio.to_thread`) when on the event loop. Every datetime in and out is timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection

from agent.records import (
    Annotation,
    CheckStatus,
    Effect,
    Incident,
    MaintenanceWindow,
    ServiceStatus,
    Snapshot,
    Transition,
)
from checks.result import ProbeResult


@dataclass(frozen=True, slots=True)
class StoredResult:
    result: ProbeResult
    in_maintenance: bool
    location: str = "local"


@dataclass(frozen=True, slots=True)
class CheckRollup:
    """Probe counts and latency of one check over one UTC hour (kept for years)."""

    check: str
    service: str
    hour: datetime
    ok: int
    degraded: int
    fail: int
    unknown: int
    latency_sum: float
    latency_buckets: tuple[int, ...]  # counts per LATENCY_BUCKETS upper bound, last is +Inf


LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))


class Store(Protocol):
    # ---- lifecycle --------------------------------------------------------------------------
    def migrate(self) -> None:
        """Create or upgrade the schema to the current version (idempotent)."""
        ...

    def close(self) -> None: ...

    # ---- the writer's side ------------------------------------------------------------------
    def apply(
        self, effects: Sequence[Effect], fence: Callable[[Connection], None] | None = None
    ) -> None:
        """Apply engine effects in order, all in one transaction (all or nothing); `fence`,
        when given, runs first in that transaction and raises to commit nothing."""
        ...

    def quarantine(self, effects: Sequence[Effect], error: str, at: datetime) -> None:
        """Keep effects the database refused as data, with the error, in their own table."""
        ...

    def load_snapshot(self) -> Snapshot:
        """Everything the engine needs to continue after a restart or a crash."""
        ...

    def record_agent_heartbeat(self, at: datetime) -> None: ...

    def last_agent_heartbeat(self) -> datetime | None: ...

    def clock_steps(self, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
        """(wall time after the step, its size in seconds) of the wall-clock steps in [start,
        end)."""
        ...

    def prune(self, now: datetime, raw_retention_days: float, limit: int = 5000) -> int:
        """Roll up and delete up to `limit` raw probe results older than the retention (one
        bounded transaction); returns rows deleted: call again while it returns `limit`."""
        ...

    # ---- timelines (availability) -----------------------------------------------------------
    def transitions(self, service: str, start: datetime, end: datetime) -> list[Transition]:
        """Transitions in [start, end), preceded by the last one before `start` if any."""
        ...

    def unknown_intervals(
        self, service: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """Recorded unknown intervals overlapping [start, end), unclipped, sorted."""
        ...

    def service_statuses(self) -> dict[str, ServiceStatus]: ...

    def check_statuses(self) -> dict[str, CheckStatus]: ...

    # ---- results ----------------------------------------------------------------------------
    def results(
        self,
        *,
        service: str | None = None,
        check: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 1000,
    ) -> list[StoredResult]:
        """Raw results, oldest first, `started_at` in [start, end)."""
        ...

    def check_rollups(
        self, *, service: str | None, start: datetime, end: datetime
    ) -> list[CheckRollup]: ...

    def services_observed(self, start: datetime, end: datetime) -> set[str]:
        """Services with at least one probe result in [start, end) (rollups: works for years)."""
        ...

    # ---- incidents --------------------------------------------------------------------------
    def incidents(
        self,
        *,
        service: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        open_only: bool = False,
    ) -> list[Incident]:
        """Incidents whose [started_at, ended_at or +inf) overlaps [start, end), by start."""
        ...

    def incident(self, incident_id: int) -> Incident | None: ...

    def annotate(
        self, incident_id: int, field: str, text: str, author: str, at: datetime
    ) -> Annotation: ...

    def annotations(self, incident_id: int) -> list[Annotation]: ...

    # ---- maintenance ------------------------------------------------------------------------
    def add_window(
        self,
        service: str,
        start: datetime,
        end: datetime,
        reason: str,
        author: str,
        created_at: datetime,
    ) -> MaintenanceWindow: ...

    def cancel_window(self, window_id: int, at: datetime) -> MaintenanceWindow | None: ...

    def windows(
        self,
        *,
        service: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        include_cancelled: bool = False,
    ) -> list[MaintenanceWindow]: ...
