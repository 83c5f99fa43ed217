"""Compaction and retention on every backend: what stays raw, what the rollups count, and that
nothing is counted twice or lost (agent/store/compaction.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select

from agent.records import (
    Effect,
    Incident,
    IncidentSaved,
    ResultRecorded,
    State,
    TimelineRewritten,
    Transition,
)
from agent.settings import RetentionSettings
from agent.store import migrations, schema
from agent.store.compaction import CONTEXT
from agent.store.retention import run_retention
from agent.store.sql import SqlStore
from checks.result import Measurement, Outcome, ProbeResult

T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)  # an hour boundary
NOW = T0 + timedelta(days=5)
AGE = timedelta(days=2)
M = timedelta(minutes=1)


def result(
    at: datetime,
    outcome: Outcome = Outcome.OK,
    check: str = "web/http",
    location: str = "local",
    duration: float = 0.2,
    **measurements: float,
) -> ResultRecorded:
    probe = ProbeResult(check, at, duration, outcome, "", dict[str, Measurement](measurements))
    return ResultRecorded(probe, in_maintenance=False, location=location)


def every_minute(hours: int, check: str = "web/http", **kw: object) -> list[Effect]:
    return [result(T0 + i * M, check=check, **kw) for i in range(hours * 60)]  # type: ignore[arg-type]


def raw(store: SqlStore) -> list[tuple[str, str, datetime, str]]:
    rows = store.results(limit=100_000)
    return [(s.result.check, s.location, s.result.started_at, str(s.result.outcome)) for s in rows]


def compact_all(store: SqlStore, now: datetime = NOW, limit: int = 5000) -> int:
    rolled = 0
    while not (step := store.compact(now, AGE, limit)).done:
        rolled += step.rolled_up
    return rolled


def rollups(store: SqlStore) -> list[dict[str, object]]:
    with store.transaction() as conn:
        query = select(schema.result_rollups).order_by(*schema.result_rollups.primary_key)
        return [dict(r) for r in conn.execute(query).mappings()]


def test_ok_results_become_hourly_rollups_per_check_and_location(store: SqlStore) -> None:
    effects = every_minute(2, phase_connect=0.01)
    effects += [result(T0 + i * 10 * M, location="porto", duration=0.1 * i) for i in range(1, 4)]
    store.apply(effects)
    counts = store.location_outcomes(T0, T0 + 2 * timedelta(hours=1))

    assert compact_all(store) == 123
    assert raw(store) == []
    first, porto, second = rollups(store)  # by hour, check, location
    assert (first["hour"], first["check"], first["location"]) == (T0, "web/http", "local")
    assert first["ok"] == 60 and first["fail"] == 0 and first["service"] == "web"
    assert first["duration_sum"] == pytest.approx(60 * 0.2) and first["duration_min"] == 0.2
    assert first["phases"] == {"phase_connect": [pytest.approx(60 * 0.01), 60]}
    assert second["hour"] == T0 + timedelta(hours=1) and second["ok"] == 60
    assert porto["location"] == "porto" and porto["ok"] == 3
    assert (porto["duration_min"], porto["duration_max"]) == (0.1, 0.1 * 3)
    assert store.location_outcomes(T0, T0 + 2 * timedelta(hours=1)) == counts


def test_non_ok_results_and_those_around_a_change_stay_raw(store: SqlStore) -> None:
    change = T0 + timedelta(hours=3)
    effects = every_minute(6)
    effects[10] = result(T0 + 10 * M, Outcome.FAIL)  # a failure nothing confirmed
    effects[20] = result(T0 + 20 * M, Outcome.DEGRADED)
    effects.append(TimelineRewritten("web", change, (Transition("web", change, State.DOWN),)))
    store.apply(effects)

    compact_all(store)
    kept = [at for _check, _location, at, _outcome in raw(store)]
    around = [T0 + i * M for i in range(6 * 60) if abs(T0 + i * M - change) <= CONTEXT]
    assert kept == [T0 + 10 * M, T0 + 20 * M, *around]
    assert store.check_rollups(service="web", start=T0, end=T0 + timedelta(hours=6))[0].fail == 1


def test_an_incident_keeps_its_results_and_an_open_one_keeps_them_to_the_end(
    store: SqlStore,
) -> None:
    store.apply(every_minute(6) + every_minute(6, check="api/http"))
    closed = Incident(1, "web", "platina", True, T0 + 60 * M, T0 + 63 * M, T0 + 90 * M)
    opened = Incident(2, "api", "ouro", False, T0 + 300 * M, T0 + 303 * M)
    store.apply([IncidentSaved(closed), IncidentSaved(opened)])

    compact_all(store)
    kept = raw(store)
    web = [at for check, _, at, _ in kept if check == "web/http"]
    api = [at for check, _, at, _ in kept if check == "api/http"]
    assert web == [T0 + i * M for i in range(30, 121)]  # 30 min before 01:00 to 30 min after 01:30
    assert api == [T0 + i * M for i in range(270, 360)]


def test_small_batches_count_every_result_once_and_a_second_pass_does_nothing(
    store: SqlStore,
) -> None:
    checks = [f"s{i:02d}/http" for i in range(12)]
    store.apply([e for check in checks for e in every_minute(3, check=check)])
    counts = store.location_outcomes(T0, T0 + timedelta(hours=3))

    steps = 0
    while not (step := store.compact(NOW, AGE, limit=100)).done:
        assert step.rolled_up + step.kept <= 120  # whole services: 60 results each per hour
        steps += 1
    assert steps == 3 * 12 // 1 and raw(store) == []  # one service per turn at limit 100
    assert (
        store.compact(NOW, AGE).done
        and store.location_outcomes(T0, T0 + timedelta(hours=3)) == counts
    )
    assert sum(int(r["ok"]) for r in rollups(store)) == 12 * 180  # type: ignore[call-overload]


def test_only_hours_older_than_the_age_are_compacted_and_late_results_stay_raw(
    store: SqlStore,
) -> None:
    store.apply(every_minute(3))
    now = T0 + AGE + timedelta(hours=2, minutes=30)  # the cutoff is T0 + 2 h
    assert compact_all(store, now) == 120
    assert [at for _, _, at, _ in raw(store)] == [T0 + i * M for i in range(120, 180)]
    late = result(T0 + 30 * M + timedelta(seconds=7))  # a worker's spool, long after
    store.apply([late])
    compact_all(store, now + timedelta(hours=1))
    assert [at for _, _, at, _ in raw(store)] == [late.result.started_at]
    assert store.location_outcomes(T0, T0 + timedelta(hours=3)) == [("local", "web", "ok", 181)]


def test_retention_rolls_up_every_outcome(store: SqlStore) -> None:
    effects = every_minute(1)
    effects[5] = result(T0 + 5 * M, Outcome.FAIL)
    effects[6] = result(T0 + 6 * M, Outcome.UNKNOWN)
    store.apply(effects)
    counts = store.location_outcomes(T0, T0 + timedelta(hours=1))
    assert store.prune(T0 + timedelta(days=31), raw_retention_days=30, limit=25) == 25
    assert store.prune(T0 + timedelta(days=31), raw_retention_days=30, limit=25) == 25
    assert store.prune(T0 + timedelta(days=31), raw_retention_days=30, limit=25) == 10
    assert raw(store) == []
    (row,) = rollups(store)
    assert (row["ok"], row["fail"], row["unknown"]) == (58, 1, 1)
    assert store.location_outcomes(T0, T0 + timedelta(hours=1)) == counts


def test_the_agents_upkeep_expires_then_compacts_in_turns(store: SqlStore) -> None:
    store.apply(every_minute(4))
    store.apply([result(T0 - timedelta(days=40) + i * M, Outcome.FAIL) for i in range(7)])
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    settings = RetentionSettings.model_validate({"raw_ok": "2d", "batch": 100, "pause": "10ms"})
    done = asyncio.run(run_retention(store, lambda: NOW, 30, settings, sleep))
    assert (done.expired, done.rolled_up, done.kept) == (7, 240, 0)
    assert raw(store) == [] and pauses and set(pauses) == {0.01}


def test_two_nodes_compacting_at_once_count_each_result_once(
    store: SqlStore, open_store: Callable[..., SqlStore]
) -> None:
    checks = [f"s{i:02d}/http" for i in range(20)]
    store.apply([e for check in checks for e in every_minute(2, check=check)])
    other = open_store(busy_timeout=30.0)
    errors: list[BaseException] = []

    def node(s: SqlStore) -> None:
        try:
            compact_all(s, limit=60)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=node, args=(s,)) for s in (store, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and raw(store) == []
    assert sum(int(r["ok"]) for r in rollups(store)) == 20 * 120  # type: ignore[call-overload]


def test_a_version_9_database_gets_the_rollups_and_its_results_are_compacted(
    store_url: str,
) -> None:
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            migrations.migrate(conn, [m for m in migrations.MIGRATIONS if m.version <= 9])
            schema.result_rollups.drop(conn)  # step 1 made it: a version 9 database had none
            schema.compaction_progress.drop(conn)
    finally:
        engine.dispose()
    store = SqlStore.open(store_url)
    try:
        assert store.schema_version() == migrations.LATEST_VERSION
        store.apply(every_minute(2))
        assert compact_all(store) == 120 and raw(store) == []
    finally:
        store.close()


def test_a_step_numbered_below_the_newest_applied_still_runs(store_url: str) -> None:
    """Migration numbers are handed out to branches ahead: 12 may be applied before 10 and 11
    exist; when they arrive they run."""
    ran: list[int] = []
    steps = [m for m in migrations.MIGRATIONS if m.version <= 9 or m.version == 12]

    def step(version: int) -> migrations.Migration:
        return migrations.Migration(version, f"late {version}", lambda _conn: ran.append(version))

    late = [step(10), step(11)]
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            assert migrations.migrate(conn, steps)[-2:] == [9, 12]
        with engine.begin() as conn:
            assert migrations.migrate(conn, [*steps, *late]) == [10, 11] and ran == [10, 11]
            assert migrations.migrate(conn, [*steps, *late]) == []
            versions = conn.execute(select(func.count()).select_from(schema.schema_version))
            assert versions.scalar_one() == 12
    finally:
        engine.dispose()
