"""Results and statuses in `SqlStore`: raw probe results, their rollups and compaction, the
engine's saved statuses, heartbeat beats, and results waiting for their partition's owner."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, exists, func, select

from agent.records import CheckStatus, ServiceStatus
from agent.store import compaction, rows
from agent.store import schema as t
from agent.store.base import CheckRollup, StoredResult
from agent.store.codec import decode_record
from agent.store.compaction import Step
from agent.store.sql.database import (
    HOUR,
    SqlDatabase,
    hours_overlapping,
    in_range,
    optional_filters,
)
from checks.result import ProbeResult

COMPACT_BATCH = 5000  # raw results per compaction transaction: ~0.1-0.3 s of the write lock


class ResultReading(SqlDatabase):
    # ---- statuses ---------------------------------------------------------------------------

    def service_statuses(self) -> dict[str, ServiceStatus]:
        with self.transaction() as conn:
            return service_statuses(conn)

    def check_statuses(self) -> dict[str, CheckStatus]:
        with self.transaction() as conn:
            return check_statuses(conn)

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
        table = t.probe_results
        conditions = optional_filters((table.c.service, service), (table.c.check, check))
        conditions += in_range(table.c.started_at, start, end)
        query = (
            select(table).where(*conditions).order_by(table.c.started_at, table.c.id).limit(limit)
        )
        return [rows.stored_result_from_row(row) for row in self._fetch(query)]

    def location_outcomes(self, start: datetime, end: datetime) -> list[tuple[str, str, str, int]]:
        """(location, service, outcome, count) of the probe results in [start, end): the raw
        rows, plus the compacted ones of the hours that begin in [start, end) (exact for a
        period on whole hours, as every report period is)."""
        table = t.probe_results
        count = func.count().label("n")
        columns = (table.c.location, table.c.service, table.c.outcome)
        query = select(*columns, count).where(*in_range(table.c.started_at, start, end))
        counts: dict[tuple[str, str, str], int] = defaultdict(int)
        for r in self._fetch(query.group_by(*columns)):
            counts[(r["location"], r["service"], r["outcome"])] += int(r["n"])
        rollups = t.result_rollups
        sums = [func.sum(rollups.c[name]).label(name) for name in t.OUTCOME_COLUMNS]
        query = (
            select(rollups.c.location, rollups.c.service, *sums)
            .where(rollups.c.hour >= start, rollups.c.hour < end)
            .group_by(rollups.c.location, rollups.c.service)
        )
        for r in self._fetch(query):
            for name in t.OUTCOME_COLUMNS:
                if r[name]:
                    counts[(r["location"], r["service"], name)] += int(r[name])
        return [(*key, n) for key, n in sorted(counts.items())]

    def held_results(
        self, location: str, keys: Iterable[tuple[str, datetime]]
    ) -> set[tuple[str, datetime]]:
        """Which of the (check, started_at) keys of `location` are stored already: a resent
        batch is acknowledged as duplicates, not stored twice."""
        wanted = set(keys)
        if not wanted:
            return set()
        table = t.probe_results
        instants = [at for _check, at in wanted]
        query = select(table.c.check, table.c.started_at).where(
            table.c.location == location,
            table.c.check.in_(sorted({c for c, _at in wanted})),
            table.c.started_at >= min(instants),
            table.c.started_at <= max(instants),
        )
        held = {(row["check"], row["started_at"]) for row in self._fetch(query)}
        return held & wanted

    def dropped_counts(self) -> dict[str, int]:
        """Per location, how many results its worker's spool dropped, as stored."""
        table = t.dropped_results
        query = select(table.c.location, func.sum(table.c.count).label("n"))
        found = self._fetch(query.group_by(table.c.location))
        return {row["location"]: int(row["n"]) for row in found}

    def held_dropped(
        self, location: str, keys: Iterable[tuple[str, datetime, datetime]]
    ) -> set[tuple[str, datetime, datetime]]:
        """Which dropped intervals (check, start, end) of `location` are stored already."""
        wanted = set(keys)
        if not wanted:
            return set()
        table = t.dropped_results
        query = select(table.c.check, table.c.start, table.c.end).where(
            table.c.location == location,
            table.c.check.in_(sorted({check for check, _start, _end in wanted})),
        )
        held = {(row["check"], row["start"], row["end"]) for row in self._fetch(query)}
        return held & wanted

    def pending_results(
        self, partitions: Iterable[int], limit: int = 2000
    ) -> list[tuple[int, str, ProbeResult]]:
        """(id, location, result) waiting for these partitions, oldest probe first."""
        wanted = sorted(set(partitions))
        if not wanted:
            return []
        table = t.pending_results
        query = (
            select(table.c.id, table.c.location, table.c.payload)
            .where(table.c.partition.in_(wanted))
            .order_by(table.c.started_at, table.c.id)
            .limit(limit)
        )
        return [
            (int(row["id"]), row["location"], decode_record(ProbeResult, row["payload"]))
            for row in self._fetch(query)
        ]

    # ---- rollups and compaction -------------------------------------------------------------

    def check_rollups(
        self, *, service: str | None, start: datetime, end: datetime
    ) -> list[CheckRollup]:
        """Rollups of the hours that overlap [start, end), by hour then check."""
        table = t.check_rollups
        query = (
            select(table)
            .where(
                *optional_filters((table.c.service, service)),
                *hours_overlapping(table, start, end),
            )
            .order_by(table.c.hour, table.c.check)
        )
        return [rows.rollup_from_row(row) for row in self._fetch(query)]

    def services_observed(self, start: datetime, end: datetime) -> set[str]:
        """Services with a result in an hour overlapping [start, end) (hour granularity)."""
        # A loose index scan on (service, hour): walk the distinct services with one index seek
        # each, then one more per service for a rollup in range. A DISTINCT over the hour range
        # would read every rollup of every check in the period (millions in a month).
        table, later, inside = (t.check_rollups.alias(name) for name in ("r0", "r1", "r2"))
        seen = select(func.min(table.c.service).label("service")).cte("seen", recursive=True)
        following = select(func.min(later.c.service)).where(later.c.service > seen.c.service)
        seen = seen.union_all(
            select(following.scalar_subquery()).where(seen.c.service.is_not(None))
        )
        hours = and_(inside.c.hour > start - HOUR, inside.c.hour < end)
        query = select(seen.c.service).where(
            seen.c.service.is_not(None),
            exists().where(inside.c.service == seen.c.service, hours),
        )
        return {row["service"] for row in self._fetch(query)}

    def prune(self, now: datetime, raw_retention_days: float, limit: int = COMPACT_BATCH) -> int:
        """Roll up and delete up to `limit` raw results older than the retention, whatever their
        outcome (one transaction); returns how many. Call again until it returns less."""
        cutoff = now - timedelta(days=raw_retention_days)
        with self.transaction(write=True) as conn:
            return compaction.retention_step(conn, self._insert, cutoff, limit)

    def compact(self, now: datetime, raw_ok_age: timedelta, limit: int = COMPACT_BATCH) -> Step:
        """One compaction transaction over about `limit` results older than `raw_ok_age`
        (agent/store/compaction.py); call again until `done`."""
        with self.transaction(write=True) as conn:
            return compaction.compact_step(conn, self._insert, now, raw_ok_age, limit)

    # ---- heartbeat checks -------------------------------------------------------------------

    def record_beat(self, check: str, at: datetime) -> None:
        """A heartbeat check's beat; an older one (a retry arriving late) changes nothing."""
        table = t.heartbeat_beats
        ins = self._insert(table).values(check=check, last_at=at)
        newer = ins.on_conflict_do_update(
            index_elements=[table.c.check],
            set_={"last_at": ins.excluded.last_at},
            where=table.c.last_at < ins.excluded.last_at,
        )
        with self.transaction(write=True) as conn:
            conn.execute(newer)

    def beats(self) -> dict[str, datetime]:
        """The newest beat of each heartbeat check."""
        table = t.heartbeat_beats
        return {r["check"]: r["last_at"] for r in self._fetch(select(table))}


def service_statuses(conn: Connection) -> dict[str, ServiceStatus]:
    found = conn.execute(select(t.service_status.c.service, t.service_status.c.data))
    return {row.service: decode_record(ServiceStatus, row.data) for row in found}


def check_statuses(conn: Connection) -> dict[str, CheckStatus]:
    found = conn.execute(select(t.check_status.c.check, t.check_status.c.data))
    return {row.check: decode_record(CheckStatus, row.data) for row in found}
