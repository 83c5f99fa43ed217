"""The writer's side of `SqlStore`: a batch of engine effects applied in one transaction."""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert

from agent.records import Effect, ResultRecorded, TimelineRewritten
from agent.store import rows
from agent.store import schema as t
from agent.store.base import LATENCY_BUCKETS
from agent.store.prepared import HotWrites
from agent.store.sql.database import SqlDatabase
from agent.store.sql.effect_batch import EffectBatch
from checks.result import ProbeResult


class EffectWriting(SqlDatabase):
    def __init__(self, url: str, *, busy_timeout: float = 5.0) -> None:
        super().__init__(url, busy_timeout=busy_timeout)
        self._hot = HotWrites(self._engine.dialect)

    def apply(
        self, effects: Sequence[Effect], fence: Callable[[Connection], None] | None = None
    ) -> None:
        batch = EffectBatch()
        for effect in effects:
            batch.add(effect)
        with self.transaction(write=True) as conn:
            if fence is not None:  # several core nodes: still the partitions' owner? (#15)
                fence(conn)
            self._write_results(conn, list(batch.results.values()))
            self._rewrite_timelines(conn, list(batch.timelines.values()))
            self._write_rest(conn, batch)
            self._write_pending(conn, batch)

    def _write_pending(self, conn: Connection, batch: EffectBatch) -> None:
        """Results waiting for their partition's owner (several core nodes, §9)."""
        table = t.pending_results
        if batch.consumed:
            conn.execute(delete(table).where(table.c.id.in_(batch.consumed)))
        if batch.pending:
            now = datetime.now(UTC)
            conn.execute(insert(table), [rows.pending_row(p, now) for p in batch.pending])

    def _write_results(self, conn: Connection, recorded: list[ResultRecorded]) -> None:
        if not recorded:
            return
        values = [rows.result_row(r) for r in recorded]
        savepoint = conn.begin_nested()
        if self._hot.results.execute(conn, values) == len(values):
            savepoint.commit()
            self._add_rollups(conn, [r.result for r in recorded])
            return
        # Some rows were there already (a batch re-applied after a commit whose outcome was
        # lost): insert again, learning which rows are new, so rollups count each result once.
        savepoint.rollback()
        table = t.probe_results
        stmt = (
            self._insert(table)
            .on_conflict_do_nothing(index_elements=list(t.RESULT_KEY))
            .returning(table.c.check, table.c.location, table.c.started_at)
        )
        inserted = {(row[0], row[1], row[2]) for row in conn.execute(stmt, values)}
        fresh = [
            r.result
            for r in recorded
            if (r.result.check, r.location, r.result.started_at) in inserted
        ]
        self._add_rollups(conn, fresh)

    def _add_rollups(self, conn: Connection, results: list[ProbeResult]) -> None:
        hourly: dict[tuple[str, datetime], dict[str, Any]] = {}
        for result in results:
            hour = result.started_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            row = hourly.get((result.check, hour))
            if row is None:
                row = hourly[(result.check, hour)] = rows.empty_rollup(
                    result.check, result.service, hour
                )
            row[str(result.outcome)] += 1
            row["latency_sum"] += result.duration
            row[t.BUCKET_COLUMNS[bisect.bisect_left(LATENCY_BUCKETS, result.duration)]] += 1
        self._hot.rollups.execute(conn, hourly.values())

    def _rewrite_timelines(self, conn: Connection, folded: list[TimelineRewritten]) -> None:
        """The batch's rewrites, one per service (`EffectBatch` folds them), in two statements."""
        self._hot.transitions_after.execute(
            conn, ({"service": r.service, "at": r.since} for r in folded)
        )
        self._hot.transitions.execute(
            conn,
            (
                {"service": step.service, "at": step.at, "state": str(step.state)}
                for rewrite in folded
                for step in rewrite.steps
            ),
        )

    def _write_rest(self, conn: Connection, batch: EffectBatch) -> None:
        unknowns = [{"service": u.service, "start": u.start, "end": u.end} for u in batch.unknowns]
        self._insert_new(conn, t.unknown_intervals, unknowns)
        flaps = [
            {"service": f.service, "at": f.at, "flapping": f.flapping, "percent": f.percent}
            for f in batch.flapping
        ]
        self._insert_new(conn, t.flapping_events, flaps)
        self._insert_new(conn, t.dropped_results, [dataclasses.asdict(d) for d in batch.dropped])
        incidents = [rows.incident_row(i) for i in batch.incidents.values()]
        self._upsert(conn, t.incidents, ["id"], incidents)
        self._hot.check_status.execute(conn, map(rows.check_status_row, batch.checks.values()))
        self._hot.service_status.execute(
            conn, map(rows.service_status_row, batch.services.values())
        )
        self._hot.location_state.execute(
            conn, map(rows.location_state_row, batch.locations.values())
        )
