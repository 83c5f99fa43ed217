"""`SqlStore`: the `Store` contract on SQLite or PostgreSQL, with one code path.

The only dialect switches are the connection setup (SQLite pragmas and explicit BEGIN) and which
`insert()` construct provides ON CONFLICT; both dialects spell the upserts the same way.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Executable,
    RowMapping,
    Table,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from agent.bounds import ALLOWED, EARLIEST, LATEST
from agent.records import (
    Annotation,
    CheckStatus,
    CheckStatusSaved,
    Effect,
    FlappingChanged,
    Incident,
    IncidentSaved,
    LocationState,
    LocationStateSaved,
    MaintenanceWindow,
    PendingConsumed,
    ResultPending,
    ResultRecorded,
    ResultsDropped,
    ServiceStatus,
    ServiceStatusSaved,
    Snapshot,
    TimelineRewritten,
    Transition,
    UnknownRecorded,
)
from agent.store import compaction, migrations
from agent.store import schema as t
from agent.store.base import LATENCY_BUCKETS, CheckRollup, StoredResult
from agent.store.compaction import Step
from agent.store.errors import UnknownIncidentError
from agent.store.prepared import HotWrites
from checks.result import Outcome, ProbeResult

_log = logging.getLogger(__name__)

COMPACT_BATCH = 5000  # raw results per compaction transaction: ~0.1-0.3 s of the write lock
RECENT_TRANSITIONS = 10  # per service, in the snapshot: enough for the flapping window's context
_HOUR = timedelta(hours=1)


@dataclass
class _Batch:
    """Effects grouped by table. Each effect kind writes its own table(s), so grouping keeps
    the outcome of applying them one by one: order is kept within a kind, and for keyed
    upserts (statuses, incidents) the last effect of a key wins, as it would in sequence;
    the timeline rewrites of one service fold into one that leaves the same rows."""

    results: dict[tuple[str, str, datetime], ResultRecorded] = field(default_factory=dict)
    timelines: dict[str, TimelineRewritten] = field(default_factory=dict)  # folded per service
    unknowns: list[UnknownRecorded] = field(default_factory=list)
    incidents: dict[int, Incident] = field(default_factory=dict)
    checks: dict[str, CheckStatus] = field(default_factory=dict)
    services: dict[str, ServiceStatus] = field(default_factory=dict)
    locations: dict[tuple[str, str], LocationState] = field(default_factory=dict)
    dropped: list[ResultsDropped] = field(default_factory=list)
    flapping: list[FlappingChanged] = field(default_factory=list)
    pending: list[ResultPending] = field(default_factory=list)  # several core nodes only
    consumed: list[int] = field(default_factory=list)

    def add(self, effect: Effect) -> None:
        match effect:
            case ResultRecorded(result=r, location=location):
                # First wins, like ON CONFLICT DO NOTHING against rows already stored.
                self.results.setdefault((r.check, location, r.started_at), effect)
            case TimelineRewritten(service=service):
                self.timelines[service] = _fold(self.timelines.get(service), effect)
            case UnknownRecorded():
                self.unknowns.append(effect)
            case IncidentSaved(incident=incident):
                self.incidents[incident.id] = incident
            case CheckStatusSaved(status=status):
                self.checks[status.check] = status
            case ServiceStatusSaved(status=status):
                self.services[status.service] = status
            case LocationStateSaved(state=state):
                self.locations[(state.check, state.location)] = state
            case ResultsDropped():
                self.dropped.append(effect)
            case FlappingChanged():
                self.flapping.append(effect)
            case ResultPending():
                self.pending.append(effect)
            case PendingConsumed(ids=ids):
                self.consumed.extend(ids)


def _fold(earlier: TimelineRewritten | None, later: TimelineRewritten) -> TimelineRewritten:
    """One rewrite leaving the rows that applying `earlier` then `later` leaves."""
    if earlier is None:
        return later
    kept = tuple(step for step in earlier.steps if step.at < later.since)
    since = min(earlier.since, later.since)
    return TimelineRewritten(later.service, since, kept + later.steps)


class SqlStore:
    """The store on SQLAlchemy Core. Thread-safe: every call takes its own pooled connection."""

    def __init__(self, url: str, *, busy_timeout: float = 5.0) -> None:
        # LIFO: the writer, the busiest user, gets back the connection it just returned, whose
        # page cache is warm. FIFO handed each batch the coldest of the pooled connections (the
        # readers had grown the pool): SQL writes cost 2-3x their single-connection CPU.
        self._engine = create_engine(url, pool_use_lifo=True)
        self._sqlite = self._engine.dialect.name == "sqlite"
        self._busy_ms = int(busy_timeout * 1000)
        if self._sqlite:
            event.listen(self._engine, "connect", self._setup_sqlite)
        self._hot = HotWrites(self._engine.dialect)
        self.skipped_windows = 0  # maintenance rows outside agent/bounds.py, at the last read
        self._logged_skipped: tuple[int, ...] = ()

    def __repr__(self) -> str:
        # render_as_string hides the password by default: safe for logs
        return f"SqlStore({self._engine.url.render_as_string()})"

    @property
    def is_sqlite(self) -> bool:
        return self._sqlite

    def secret_url(self) -> str:
        """The URL with its password, for a component that opens its own connections (the
        cluster's lease renewer). Never log it."""
        return self._engine.url.render_as_string(hide_password=False)

    @property
    def database_file(self) -> Path | None:
        """The SQLite file; None for PostgreSQL or an in-memory database."""
        name = self._engine.url.database
        if not self._sqlite or not name or name == ":memory:" or name.startswith("file:"):
            return None
        return Path(name)

    @classmethod
    def open(cls, url: str, *, busy_timeout: float = 5.0) -> SqlStore:
        """A store on `url` with its schema migrated to the current version."""
        store = cls(url, busy_timeout=busy_timeout)
        store.migrate()
        return store

    def _setup_sqlite(self, dbapi_connection: Any, _record: Any) -> None:
        # Driver-level autocommit: `_transaction` issues BEGIN itself, because pysqlite's own
        # deferred BEGIN lets a read-then-write transaction fail with SQLITE_BUSY at once
        # instead of waiting busy_timeout for the lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        cursor.close()

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Connection]:
        """A connection inside one transaction (committed on success, rolled back on error).

        For what the `Store` protocol does not cover (ad-hoc report queries, migration tools).
        `write=True` takes SQLite's write lock up front.
        """
        with self._engine.begin() as conn:
            if self._sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
            yield conn

    def _fetch(self, query: Executable) -> Sequence[RowMapping]:
        """Rows of one read query, as mappings (keys are column names)."""
        with self.transaction() as conn:
            return conn.execute(query).mappings().all()

    def _insert(self, table: Table) -> Any:
        """An INSERT with `on_conflict_do_*` (the same API on both dialects)."""
        return sqlite.insert(table) if self._sqlite else postgresql.insert(table)

    # ---- lifecycle --------------------------------------------------------------------------

    def migrate(self) -> None:
        with self.transaction(write=True) as conn:
            migrations.migrate(conn)

    def schema_version(self) -> int:
        with self.transaction() as conn:
            return migrations.current_version(conn)

    def close(self) -> None:
        self._engine.dispose()

    # ---- the writer's side ------------------------------------------------------------------

    def apply(
        self, effects: Sequence[Effect], fence: Callable[[Connection], None] | None = None
    ) -> None:
        batch = _Batch()
        for effect in effects:
            batch.add(effect)
        with self.transaction(write=True) as conn:
            if fence is not None:  # several core nodes: still the partitions' owner? (#15)
                fence(conn)
            self._write_results(conn, list(batch.results.values()))
            self._rewrite_timelines(conn, list(batch.timelines.values()))
            self._write_rest(conn, batch)
            self._write_pending(conn, batch)

    # ---- results waiting for their partition's owner (several core nodes, §9) ----------------

    def _write_pending(self, conn: Connection, batch: _Batch) -> None:
        table = t.pending_results
        if batch.consumed:
            conn.execute(delete(table).where(table.c.id.in_(batch.consumed)))
        if batch.pending:
            now = datetime.now(UTC)
            rows = [t.pending_row(p, now) for p in batch.pending]
            conn.execute(insert(table), rows)

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
            (int(row["id"]), row["location"], t.decode_record(ProbeResult, row["payload"]))
            for row in self._fetch(query)
        ]

    def quarantine(self, effects: Sequence[Effect], error: str, at: datetime) -> None:
        """Keep effects the database refused as data, with why, instead of retrying them."""
        rows = [
            {"at": at, "kind": type(e).__name__, "record": repr(e), "error": error} for e in effects
        ]
        with self.transaction(write=True) as conn:
            conn.execute(insert(t.quarantine), rows)

    def quarantined(self) -> list[dict[str, Any]]:
        query = select(t.quarantine).order_by(t.quarantine.c.id)
        return [dict(row) for row in self._fetch(query)]

    def _write_results(self, conn: Connection, recorded: list[ResultRecorded]) -> None:
        if not recorded:
            return
        rows = [t.result_row(r) for r in recorded]
        savepoint = conn.begin_nested()
        if self._hot.results.execute(conn, rows) == len(rows):
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
        inserted = {(row[0], row[1], row[2]) for row in conn.execute(stmt, rows)}
        fresh = [
            r.result
            for r in recorded
            if (r.result.check, r.location, r.result.started_at) in inserted
        ]
        self._add_rollups(conn, fresh)

    def _add_rollups(self, conn: Connection, results: list[ProbeResult]) -> None:
        rows: dict[tuple[str, datetime], dict[str, Any]] = {}
        for result in results:
            hour = result.started_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            row = rows.get((result.check, hour))
            if row is None:
                row = rows[(result.check, hour)] = t.empty_rollup(
                    result.check, result.service, hour
                )
            row[str(result.outcome)] += 1
            row["latency_sum"] += result.duration
            row[t.BUCKET_COLUMNS[bisect.bisect_left(LATENCY_BUCKETS, result.duration)]] += 1
        self._hot.rollups.execute(conn, rows.values())

    def _rewrite_timelines(self, conn: Connection, folded: list[TimelineRewritten]) -> None:
        """The batch's rewrites, one per service (`_Batch` folds them), in two statements."""
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

    def _write_rest(self, conn: Connection, batch: _Batch) -> None:
        unknowns = [{"service": u.service, "start": u.start, "end": u.end} for u in batch.unknowns]
        self._insert_new(conn, t.unknown_intervals, unknowns)
        flaps = [
            {"service": f.service, "at": f.at, "flapping": f.flapping, "percent": f.percent}
            for f in batch.flapping
        ]
        self._insert_new(conn, t.flapping_events, flaps)
        self._insert_new(conn, t.dropped_results, [dataclasses.asdict(d) for d in batch.dropped])
        incidents = [t.incident_row(i) for i in batch.incidents.values()]
        self._upsert(conn, t.incidents, ["id"], incidents)
        self._hot.check_status.execute(conn, map(t.check_status_row, batch.checks.values()))
        self._hot.service_status.execute(conn, map(t.service_status_row, batch.services.values()))
        self._hot.location_state.execute(conn, map(t.location_state_row, batch.locations.values()))

    def _insert_new(self, conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
        if rows:
            conn.execute(self._insert(table).on_conflict_do_nothing(), rows)

    def _upsert(
        self, conn: Connection, table: Table, key: list[str], rows: list[dict[str, Any]]
    ) -> None:
        if not rows:
            return
        ins = self._insert(table)
        values = {name: ins.excluded[name] for name in rows[0] if name not in key}
        conn.execute(ins.on_conflict_do_update(index_elements=key, set_=values), rows)

    def load_snapshot(self) -> Snapshot:
        with self.transaction() as conn:
            checks, services = self._check_statuses(conn), self._service_statuses(conn)
            return Snapshot(
                checks=self._newest_check_results(conn, checks),
                services=self._newest_service_results(conn, services),
                open_incidents=_by_service(self._latest_incidents(conn, closed=False)),
                last_incidents=_by_service(self._latest_incidents(conn, closed=True)),
                recent_transitions=self._recent_transitions(conn),
                next_incident_id=(conn.execute(select(func.max(t.incidents.c.id))).scalar() or 0)
                + 1,
                locations=self._location_states(conn),
            )

    def _location_states(self, conn: Connection) -> dict[str, dict[str, LocationState]]:
        """Each location's saved state, its newest result taken from the stored results (the
        engine saves a state whose only change is that instant every few minutes): one
        statement, an index range read per state inside the database."""
        states, results = t.location_state, t.probe_results
        newest = (
            select(func.max(results.c.started_at))
            .where(
                results.c.check == states.c.check,
                results.c.location == states.c.location,
                results.c.started_at > states.c.last_result_at,
                results.c.outcome != Outcome.UNKNOWN.value,
            )
            .scalar_subquery()
        )
        out: dict[str, dict[str, LocationState]] = {}
        for row in conn.execute(select(states.c.data, newest.label("newest"))):
            state = t.decode_record(LocationState, row.data)
            if row.newest is not None:
                status = dataclasses.replace(state.status, last_result_at=row.newest)
                state = dataclasses.replace(state, status=status)
            out.setdefault(state.check, {})[state.location] = state
        return out

    # The engine saves a status whose only change is its newest result's instant at most once
    # a minute (agent/engine/engine.py, SAVE_EVERY_SECONDS), so after a kill -9 the stored
    # instant can be older than the newest stored result: take the newest known (not unknown)
    # result instead, so the silent gap is measured from the true last result. One index
    # range read per check / service, over the few results after the stored instant.

    def _newest_check_results(
        self, conn: Connection, statuses: dict[str, CheckStatus]
    ) -> dict[str, CheckStatus]:
        return self._newest_results(conn, t.probe_results.c.check, statuses, "last_result_at")

    def _newest_service_results(
        self, conn: Connection, statuses: dict[str, ServiceStatus]
    ) -> dict[str, ServiceStatus]:
        return self._newest_results(conn, t.probe_results.c.service, statuses, "last_seen_at")

    def _newest_results(
        self, conn: Connection, key: Any, statuses: dict[str, S], field: str
    ) -> dict[str, S]:
        """`statuses` with `field` moved to the newest known result stored after it."""
        table = t.probe_results
        query = select(func.max(table.c.started_at)).where(
            key == bindparam("key"),
            table.c.started_at > bindparam("after", type_=table.c.started_at.type),
            table.c.outcome != Outcome.UNKNOWN.value,
        )
        out = dict(statuses)
        for name, status in statuses.items():
            stored = getattr(status, field)
            if stored is None:
                continue
            newest = conn.execute(query, {"key": name, "after": stored}).scalar()
            if newest is not None:
                out[name] = dataclasses.replace(status, **{field: newest})
        return out

    def _latest_incidents(self, conn: Connection, *, closed: bool) -> list[Incident]:
        table = t.incidents
        where = table.c.ended_at.is_not(None) if closed else table.c.ended_at.is_(None)
        order = (table.c.ended_at.desc(), table.c.id.desc()) if closed else (table.c.id.desc(),)
        rank = func.row_number().over(partition_by=table.c.service, order_by=order)
        ranked = select(table, rank.label("rank")).where(where).subquery()
        query = select(*(ranked.c[c.name] for c in table.c)).where(ranked.c.rank == 1)
        return [t.incident_from_row(row._mapping) for row in conn.execute(query)]

    def _recent_transitions(self, conn: Connection) -> dict[str, tuple[Transition, ...]]:
        table = t.transitions
        rank = func.row_number().over(partition_by=table.c.service, order_by=table.c.at.desc())
        ranked = select(table, rank.label("rank")).subquery()
        query = (
            select(ranked.c.service, ranked.c.at, ranked.c.state)
            .where(ranked.c.rank <= RECENT_TRANSITIONS)
            .order_by(ranked.c.service, ranked.c.at)
        )
        out: dict[str, list[Transition]] = {}
        for row in conn.execute(query):
            out.setdefault(row.service, []).append(t.transition_from_row(row._mapping))
        return {service: tuple(steps) for service, steps in out.items()}

    # ---- ids from the database ------------------------------------------------------------

    def reserve_ids(self, count: int, name: str = "incident") -> range:
        """Hand out `count` ids no other caller (node) ever gets: a row lock on the counter
        serialises reservations. Never below the highest stored incident (a restored or
        imported database keeps its numbers)."""
        if count < 1:
            raise ValueError(f"reserve at least one id, not {count}")
        table = t.id_counters
        highest = select(func.coalesce(func.max(t.incidents.c.id), 0) + 1).scalar_subquery()
        start = (
            func.max(table.c.next, highest)
            if self._sqlite
            else func.greatest(table.c.next, highest)
        )
        with self.transaction(write=True) as conn:
            self._insert_new(conn, table, [{"name": name, "next": 1}])
            stmt = (
                update(table)
                .where(table.c.name == name)
                .values(next=start + count)
                .returning(table.c.next)
            )
            end = int(conn.execute(stmt).scalar_one())
        return range(end - count, end)

    def give_back_ids(self, unused: range, name: str = "incident") -> bool:
        """Return the unused tail of the last reservation, when nobody reserved after it (a
        clean shutdown leaves no gap in the numbers); True when it was taken back."""
        if not unused:
            return False
        table = t.id_counters
        stmt = (
            update(table)
            .where(table.c.name == name, table.c.next == unused.stop)
            .values(next=unused.start)
        )
        with self.transaction(write=True) as conn:
            return bool(conn.execute(stmt).rowcount)

    def record_agent_heartbeat(self, at: datetime) -> None:
        with self.transaction(write=True) as conn:
            self._upsert(conn, t.agent_heartbeat, ["id"], [{"id": 1, "at": at}])

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

    def record_clock_step(self, at: datetime, seconds: float) -> None:
        """A wall-clock step: the interval [at - seconds, at] (either way) was stamped by a
        clock that was wrong on one side of it."""
        with self.transaction(write=True) as conn:
            conn.execute(insert(t.clock_steps), [{"at": at, "seconds": seconds}])

    def clock_steps(self, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
        """(wall time after the step, its size in seconds) of the steps in [start, end)."""
        table = t.clock_steps
        query = select(table.c.at, table.c.seconds).where(table.c.at >= start, table.c.at < end)
        return [(r["at"], r["seconds"]) for r in self._fetch(query.order_by(table.c.at))]

    def last_agent_heartbeat(self) -> datetime | None:
        rows = self._fetch(select(t.agent_heartbeat.c.at))
        return rows[0]["at"] if rows else None

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

    def flapping_changes(
        self, service: str, start: datetime, end: datetime
    ) -> list[FlappingChanged]:
        """Recorded flapping starts and stops of `service` in [start, end), oldest first."""
        table = t.flapping_events
        query = (
            select(table)
            .where(table.c.service == service, *_range(table.c.at, start, end))
            .order_by(table.c.at)
        )
        return [FlappingChanged(**row) for row in self._fetch(query)]

    # ---- timelines --------------------------------------------------------------------------

    def transitions(self, service: str, start: datetime, end: datetime) -> list[Transition]:
        table = t.transitions
        mine = select(table).where(table.c.service == service)
        with self.transaction() as conn:
            before = conn.execute(
                mine.where(table.c.at < start).order_by(table.c.at.desc()).limit(1)
            ).all()
            inside = conn.execute(
                mine.where(table.c.at >= start, table.c.at < end).order_by(table.c.at)
            ).all()
        return [t.transition_from_row(row._mapping) for row in [*before, *inside]]

    def unknown_intervals(
        self, service: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        table = t.unknown_intervals
        query = (
            select(table.c.start, table.c.end)
            .where(table.c.service == service, table.c.start < end, table.c.end > start)
            .order_by(table.c.start, table.c.end)
        )
        return [(row["start"], row["end"]) for row in self._fetch(query)]

    def service_statuses(self) -> dict[str, ServiceStatus]:
        with self.transaction() as conn:
            return self._service_statuses(conn)

    def check_statuses(self) -> dict[str, CheckStatus]:
        with self.transaction() as conn:
            return self._check_statuses(conn)

    def _service_statuses(self, conn: Connection) -> dict[str, ServiceStatus]:
        rows = conn.execute(select(t.service_status.c.service, t.service_status.c.data))
        return {row.service: t.decode_record(ServiceStatus, row.data) for row in rows}

    def _check_statuses(self, conn: Connection) -> dict[str, CheckStatus]:
        rows = conn.execute(select(t.check_status.c.check, t.check_status.c.data))
        return {row.check: t.decode_record(CheckStatus, row.data) for row in rows}

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
        conditions = _optional_filters((table.c.service, service), (table.c.check, check)) + _range(
            table.c.started_at, start, end
        )
        query = (
            select(table).where(*conditions).order_by(table.c.started_at, table.c.id).limit(limit)
        )
        return [t.stored_result_from_row(row) for row in self._fetch(query)]

    def location_outcomes(self, start: datetime, end: datetime) -> list[tuple[str, str, str, int]]:
        """(location, service, outcome, count) of the probe results in [start, end): the raw
        rows, plus the compacted ones of the hours that begin in [start, end) (exact for a
        period on whole hours, as every report period is)."""
        table = t.probe_results
        count = func.count().label("n")
        columns = (table.c.location, table.c.service, table.c.outcome)
        query = select(*columns, count).where(*_range(table.c.started_at, start, end))
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
        rows = self._fetch(query.group_by(table.c.location))
        return {row["location"]: int(row["n"]) for row in rows}

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

    def check_rollups(
        self, *, service: str | None, start: datetime, end: datetime
    ) -> list[CheckRollup]:
        """Rollups of the hours that overlap [start, end), by hour then check."""
        table = t.check_rollups
        query = (
            select(table)
            .where(*_optional_filters((table.c.service, service)), *_hours(table, start, end))
            .order_by(table.c.hour, table.c.check)
        )
        return [t.rollup_from_row(row) for row in self._fetch(query)]

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
        hours = and_(inside.c.hour > start - _HOUR, inside.c.hour < end)
        query = select(seen.c.service).where(
            seen.c.service.is_not(None),
            exists().where(inside.c.service == seen.c.service, hours),
        )
        return {row["service"] for row in self._fetch(query)}

    # ---- incidents --------------------------------------------------------------------------

    def incidents(
        self,
        *,
        service: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        open_only: bool = False,
    ) -> list[Incident]:
        table = t.incidents
        conditions = _optional_filters((table.c.service, service))
        if end is not None:
            conditions.append(table.c.started_at < end)
        if start is not None:  # an open incident runs to +inf
            conditions.append(or_(table.c.ended_at.is_(None), table.c.ended_at > start))
        if open_only:
            conditions.append(table.c.ended_at.is_(None))
        query = select(table).where(*conditions).order_by(table.c.started_at, table.c.id)
        return [t.incident_from_row(row) for row in self._fetch(query)]

    def incident(self, incident_id: int) -> Incident | None:
        query = select(t.incidents).where(t.incidents.c.id == incident_id)
        rows = self._fetch(query)
        return t.incident_from_row(rows[0]) if rows else None

    def annotate(
        self, incident_id: int, field: str, text: str, author: str, at: datetime
    ) -> Annotation:
        values = {"incident": incident_id, "field": field, "text": text, "author": author}
        with self.transaction(write=True) as conn:
            exists = select(t.incidents.c.id).where(t.incidents.c.id == incident_id)
            if conn.execute(exists).first() is None:
                raise UnknownIncidentError(f"incident {incident_id} does not exist")
            stmt = insert(t.incident_annotations).returning(t.incident_annotations.c.id)
            new_id = conn.execute(stmt, {**values, "created_at": at}).scalar_one()
        return Annotation(id=new_id, created_at=at, **values)  # type: ignore[arg-type]

    def annotations(self, incident_id: int) -> list[Annotation]:
        table = t.incident_annotations
        query = select(table).where(table.c.incident == incident_id).order_by(table.c.id)
        return [Annotation(**row) for row in self._fetch(query)]

    # ---- maintenance ------------------------------------------------------------------------

    def add_window(
        self,
        service: str,
        start: datetime,
        end: datetime,
        reason: str,
        author: str,
        created_at: datetime,
    ) -> MaintenanceWindow:
        values = {"service": service, "start": start, "end": end, "reason": reason}
        values |= {"author": author, "created_at": created_at}
        with self.transaction(write=True) as conn:
            stmt = insert(t.maintenance_windows).returning(t.maintenance_windows.c.id)
            new_id = conn.execute(stmt, values).scalar_one()
        return MaintenanceWindow(id=new_id, **values)  # type: ignore[arg-type]

    def cancel_window(self, window_id: int, at: datetime) -> MaintenanceWindow | None:
        """Cancels the window; cancelling again keeps the first cancellation time."""
        table = t.maintenance_windows
        with self.transaction(write=True) as conn:
            conn.execute(
                update(table)
                .where(table.c.id == window_id, table.c.cancelled_at.is_(None))
                .values(cancelled_at=at)
            )
            row = conn.execute(select(table).where(table.c.id == window_id)).first()
        return None if row is None else MaintenanceWindow(**row._asdict())

    def windows(
        self,
        *,
        service: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        include_cancelled: bool = False,
    ) -> list[MaintenanceWindow]:
        """Windows overlapping [start, end), by start."""
        table = t.maintenance_windows
        conditions = _optional_filters((table.c.service, service))
        if start is not None:
            conditions.append(table.c.end > start)
        if end is not None:
            conditions.append(table.c.start < end)
        if not include_cancelled:
            conditions.append(table.c.cancelled_at.is_(None))
        # a row outside the input range (stored by an older vigia or by hand) may not even
        # convert back to a datetime: it is skipped, counted and logged, the others still read
        readable = [table.c.start >= EARLIEST, table.c.end <= LATEST]
        query = select(table).where(*conditions, *readable).order_by(table.c.start, table.c.id)
        found = [MaintenanceWindow(**row) for row in self._fetch(query)]
        self._note_unreadable_windows(conditions)
        return found

    def _note_unreadable_windows(self, conditions: list[ColumnElement[bool]]) -> None:
        table = t.maintenance_windows
        outside = or_(table.c.start < EARLIEST, table.c.end > LATEST)
        query = select(table.c.id).where(*conditions, outside).order_by(table.c.id)
        ids = tuple(row["id"] for row in self._fetch(query))
        self.skipped_windows = len(ids)
        if ids and ids != self._logged_skipped:
            _log.warning(
                "maintenance windows %s skipped: start or end outside %s",
                ", ".join(map(str, ids)),
                ALLOWED,
            )
        self._logged_skipped = ids


# ---- rows <-> records ---------------------------------------------------------------------


S = TypeVar("S", CheckStatus, ServiceStatus)


def _optional_filters(*pairs: tuple[Any, str | None]) -> list[ColumnElement[bool]]:
    return [column == value for column, value in pairs if value is not None]


def _range(column: Any, start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
    conditions = [] if start is None else [column >= start]
    return conditions + ([] if end is None else [column < end])


def _hours(table: Table, start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [and_(table.c.hour > start - _HOUR, table.c.hour < end)]


def _by_service(incidents: list[Incident]) -> dict[str, Incident]:
    return {incident.service: incident for incident in incidents}
