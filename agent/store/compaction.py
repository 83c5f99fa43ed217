"""Compaction: the raw probe results the figures do not need become per-hour rollups.

Every figure vigia publishes is computed from transitions, unknown intervals and incidents
(kept for ever), from `check_rollups` (counted as results arrive, kept for ever), or from raw
results that compaction keeps: every result that was not ok, and every result of a service
within `CONTEXT` of one of its transitions or incidents, which is exactly what the incident
review shows as "probes around it". The other ok results older than `retention.raw_ok` are
deleted and counted into `result_rollups` per UTC hour, check and location, so that raw rows
plus rollups still account for every result (the monthly report's per-location counts).

Results older than `raw_retention_days` are rolled up whatever their outcome.

Each call does one bounded transaction (`limit` rows), so the single store writer, which
needs the same SQLite write lock, waits at most one batch. Compaction walks hour by hour,
services in order inside an hour, remembering where it stopped in `compaction_progress`; a
result that arrives after its hour was walked (a worker's spool, days late) stays raw until
`raw_retention_days`. Every transaction first locks its `compaction_progress` row, so two core
nodes on one PostgreSQL take turns instead of rolling the same rows up twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, or_, select

from agent.store import schema as t
from checks.result import Outcome

CONTEXT = timedelta(minutes=30)  # raw results kept either side of a transition or incident
HOUR = timedelta(hours=1)
PHASE_PREFIX = "phase_"  # measurements that time one phase of a probe (checks/http.py)
RAW_OK = "raw_ok"  # the compaction_progress row of the ok-results compaction
RETENTION = "retention"  # ... and the lock row of the retention roll-up

Insert = Callable[[Any], Any]  # the dialect's insert() with on_conflict_do_update
Key = tuple[datetime, str, str]  # (hour, check, location)


@dataclass(frozen=True, slots=True)
class Step:
    """What one compaction transaction did."""

    rolled_up: int  # raw rows deleted and counted into result_rollups
    kept: int  # raw rows looked at and kept (not ok, or around a change)
    done: bool  # nothing older than the cutoff is left to look at


def floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# ---- the ok results older than retention.raw_ok ------------------------------------------


def compact_step(
    conn: Connection, insert: Insert, now: datetime, age: timedelta, limit: int
) -> Step:
    """Roll up the compactable ok results of the next services of the next hour older than
    `now - age` (whole hours only), up to about `limit` rows."""
    cutoff = floor_hour(now - age)
    hour, after = start = _progress(conn, insert, RAW_OK, _first_hour(conn, cutoff))
    while hour < cutoff:
        services = _next_services(conn, hour, after, limit)
        if services:
            break
        hour, after = _next_hour(conn, hour, cutoff), ""
    else:  # caught up; never moved back (a longer raw_ok later keeps what is compacted)
        if (hour, after) != start:
            _save_progress(conn, RAW_OK, hour, after)
        return Step(0, 0, done=True)
    rows = _hour_rows(conn, services, hour)
    protected = _Protection.read(conn, services, hour, hour + HOUR)
    doomed = [r for r in rows if r["outcome"] == Outcome.OK.value and not protected.covers(r)]
    rolled = _delete_and_roll_up(conn, insert, doomed)
    _save_progress(conn, RAW_OK, hour, services[-1])
    return Step(rolled, len(rows) - rolled, done=False)


def _first_hour(conn: Connection, cutoff: datetime) -> datetime:
    """Where a database's first pass starts: its oldest raw result's hour."""
    oldest = conn.execute(select(func.min(t.probe_results.c.started_at))).scalar()
    return cutoff if oldest is None else floor_hour(oldest)


def _next_services(conn: Connection, hour: datetime, after: str, limit: int) -> list[str]:
    """The services after `after` with results in `hour`, as many as make about `limit`
    results (at least one), read from check_rollups, which counts every result as it arrives."""
    table = t.check_rollups
    count = func.sum(table.c.ok + table.c.degraded + table.c.fail + table.c.unknown)
    query = (
        select(table.c.service, count.label("n"))
        .where(table.c.hour == hour, table.c.service > after)
        .group_by(table.c.service)
        .order_by(table.c.service)
        .limit(limit)
    )
    services: list[str] = []
    total = 0
    for row in conn.execute(query):
        if services and total + int(row.n) > limit:
            break
        services.append(row.service)
        total += int(row.n)
    return services


def _next_hour(conn: Connection, hour: datetime, cutoff: datetime) -> datetime:
    table = t.check_rollups
    found = conn.execute(select(func.min(table.c.hour)).where(table.c.hour > hour)).scalar()
    return cutoff if found is None else min(found, cutoff)


def _hour_rows(conn: Connection, services: Sequence[str], hour: datetime) -> list[RowMapping]:
    table = t.probe_results
    query = select(table).where(
        table.c.service.in_(services),
        table.c.started_at >= hour,
        table.c.started_at < hour + HOUR,
    )
    return list(conn.execute(query).mappings())


class _Protection:
    """The instants of each service whose raw results stay: within CONTEXT of a transition, or
    from CONTEXT before an incident's start to CONTEXT after its end (open: for ever)."""

    def __init__(self) -> None:
        self.spans: dict[str, list[tuple[datetime, datetime | None]]] = defaultdict(list)

    @classmethod
    def read(
        cls, conn: Connection, services: Sequence[str], lo: datetime, hi: datetime
    ) -> _Protection:
        """The spans that reach into [lo, hi]."""
        found = cls()
        found._read_transitions(conn, services, lo, hi)
        found._read_incidents(conn, services, lo, hi)
        return found

    def _read_transitions(
        self, conn: Connection, services: Sequence[str], lo: datetime, hi: datetime
    ) -> None:
        steps = t.transitions
        query = select(steps.c.service, steps.c.at).where(
            steps.c.service.in_(services), steps.c.at >= lo - CONTEXT, steps.c.at <= hi + CONTEXT
        )
        for row in conn.execute(query):
            self.spans[row.service].append((row.at - CONTEXT, row.at + CONTEXT))

    def _read_incidents(
        self, conn: Connection, services: Sequence[str], lo: datetime, hi: datetime
    ) -> None:
        table = t.incidents
        query = select(table.c.service, table.c.started_at, table.c.ended_at).where(
            table.c.service.in_(services),
            table.c.started_at <= hi + CONTEXT,
            or_(table.c.ended_at.is_(None), table.c.ended_at >= lo - CONTEXT),
        )
        for row in conn.execute(query):
            end = None if row.ended_at is None else row.ended_at + CONTEXT
            self.spans[row.service].append((row.started_at - CONTEXT, end))

    def covers(self, row: RowMapping) -> bool:
        at = row["started_at"]
        return any(
            a <= at and (b is None or at <= b) for a, b in self.spans.get(row["service"], ())
        )


# ---- every result older than raw_retention_days -------------------------------------------


def retention_step(conn: Connection, insert: Insert, cutoff: datetime, limit: int) -> int:
    """Roll up (whatever their outcome) and delete up to `limit` raw results before `cutoff`."""
    _progress(conn, insert, RETENTION, cutoff)  # the lock; its position is not needed
    table = t.probe_results
    query = select(table).where(table.c.started_at < cutoff).order_by(table.c.started_at)
    rows = list(conn.execute(query.limit(limit)).mappings())
    return _delete_and_roll_up(conn, insert, rows)


# ---- shared -------------------------------------------------------------------------------


def _progress(conn: Connection, insert: Insert, name: str, start: datetime) -> tuple[datetime, str]:
    """Lock `name`'s progress row (creating it at `start`) and return its position."""
    table = t.compaction_progress
    conn.execute(
        insert(table).on_conflict_do_nothing(index_elements=["name"]),
        [{"name": name, "hour": start, "service": ""}],
    )
    query = select(table.c.hour, table.c.service).where(table.c.name == name)
    row = conn.execute(query.with_for_update()).one()  # SQLite: BEGIN IMMEDIATE holds it
    return row.hour, row.service


def _save_progress(conn: Connection, name: str, hour: datetime, service: str) -> None:
    table = t.compaction_progress
    conn.execute(table.update().where(table.c.name == name).values(hour=hour, service=service))


def _delete_and_roll_up(conn: Connection, insert: Insert, rows: Sequence[RowMapping]) -> int:
    """Delete `rows` and add those actually deleted (RETURNING) to their hours' rollups."""
    if not rows:
        return 0
    table = t.probe_results
    by_id = {row["id"]: row for row in rows}
    gone: list[RowMapping] = []
    ids = list(by_id)
    for start in range(0, len(ids), 5000):  # bound the statement's parameters
        chunk = ids[start : start + 5000]
        stmt = delete(table).where(table.c.id.in_(chunk)).returning(table.c.id)
        gone += [by_id[i] for i in conn.execute(stmt).scalars()]
    _add_to_rollups(conn, insert, gone)
    return len(gone)


def _add_to_rollups(conn: Connection, insert: Insert, rows: Iterable[RowMapping]) -> None:
    tallies: dict[Key, dict[str, Any]] = {}
    for row in rows:
        key = (floor_hour(row["started_at"]), row["check"], row["location"])
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = empty_tally(key, row["service"])
        add_result(tally, row)
    if not tallies:
        return
    for key, stored in _stored_tallies(conn, list(tallies)).items():
        merge(tallies[key], stored)
    table = t.result_rollups
    ins = insert(table)
    key_names = ("hour", "check", "location")
    values = {c.name: ins.excluded[c.name] for c in table.c if c.name not in key_names}
    conn.execute(
        ins.on_conflict_do_update(index_elements=list(key_names), set_=values),
        list(tallies.values()),
    )


def _stored_tallies(conn: Connection, keys: list[Key]) -> dict[Key, dict[str, Any]]:
    """The rollups already stored for `keys` (read, merged in Python, written back: the phase
    sums are a JSON document no upsert can add to; the progress lock makes it safe)."""
    table = t.result_rollups
    found: dict[Key, dict[str, Any]] = {}
    for hour in sorted({k[0] for k in keys}):
        checks = sorted({k[1] for k in keys if k[0] == hour})
        query = select(table).where(table.c.hour == hour, table.c.check.in_(checks))
        for row in conn.execute(query).mappings():
            found[(row["hour"], row["check"], row["location"])] = dict(row)
    return {k: v for k, v in found.items() if k in set(keys)}


def empty_tally(key: Key, service: str) -> dict[str, Any]:
    hour, check, location = key
    counts = dict.fromkeys((*t.OUTCOME_COLUMNS, "in_maintenance"), 0)
    return {
        "hour": hour,
        "check": check,
        "location": location,
        "service": service,
        **counts,
        "duration_sum": 0.0,
        "duration_min": float("inf"),
        "duration_max": float("-inf"),
        "phases": {},
    }


def add_result(tally: dict[str, Any], row: RowMapping) -> None:
    tally[row["outcome"]] += 1
    tally["in_maintenance"] += int(bool(row["in_maintenance"]))
    duration = float(row["duration"])
    tally["duration_sum"] += duration
    tally["duration_min"] = min(tally["duration_min"], duration)
    tally["duration_max"] = max(tally["duration_max"], duration)
    for name, value in (row["measurements"] or {}).items():
        if name.startswith(PHASE_PREFIX) and isinstance(value, int | float):
            total, count = tally["phases"].get(name, (0.0, 0))
            tally["phases"][name] = [total + float(value), count + 1]


def merge(tally: dict[str, Any], stored: dict[str, Any]) -> None:
    for name in (*t.OUTCOME_COLUMNS, "in_maintenance", "duration_sum"):
        tally[name] += stored[name]
    tally["duration_min"] = min(tally["duration_min"], stored["duration_min"])
    tally["duration_max"] = max(tally["duration_max"], stored["duration_max"])
    for name, (total, count) in (stored["phases"] or {}).items():
        mine = tally["phases"].get(name, (0.0, 0))
        tally["phases"][name] = [mine[0] + total, mine[1] + count]
