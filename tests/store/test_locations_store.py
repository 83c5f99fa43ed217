"""Results keyed (check, location, started_at) and migration 5, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, MetaData, Table, UniqueConstraint, create_engine, insert, select

from agent.records import Fragment, Incident, IncidentSaved, ResultRecorded, ResultsDropped
from agent.store import migrations, schema
from agent.store.rows import incident_row, result_row
from agent.store.sql import SqlStore
from alerting import tables as alerting_tables
from checks.result import Outcome, ProbeResult

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def result(seconds: float = 0, outcome: Outcome = Outcome.OK) -> ProbeResult:
    return ProbeResult("portal/http", T0 + timedelta(seconds=seconds), 0.2, outcome, "r")


def test_a_result_is_stored_once_per_location(open_store: Callable[..., SqlStore]) -> None:
    store = open_store()
    store.apply([ResultRecorded(result(), False, "porto"), ResultRecorded(result(), False)])
    # resent (a worker's spool after a lost acknowledgement), alone and within a batch
    store.apply([ResultRecorded(result(), False, "porto")])
    store.apply(
        [ResultRecorded(result(), False, "porto"), ResultRecorded(result(30), False, "porto")]
    )
    stored = store.results(check="portal/http")
    assert sorted((s.location, s.result.started_at) for s in stored) == [
        ("local", T0),
        ("porto", T0),
        ("porto", T0 + timedelta(seconds=30)),
    ]
    rollups = store.check_rollups(service="portal", start=T0, end=T0 + timedelta(hours=1))
    assert sum(r.ok for r in rollups) == 3  # each stored result counted once


def test_an_incident_keeps_its_locations_and_retroactive_flag(
    open_store: Callable[..., SqlStore],
) -> None:
    store = open_store()
    incident = Incident(
        1,
        "portal",
        "platina",
        True,
        T0,
        T0,
        fragments=(Fragment(T0, T0),),
        locations=("lisboa", "porto"),
        retroactive=True,
    )
    store.apply([IncidentSaved(incident)])
    assert store.incident(1) == incident


def test_dropped_intervals_are_stored_once_and_counted_per_location(
    open_store: Callable[..., SqlStore],
) -> None:
    store = open_store()
    gap = ResultsDropped("portal/http", "portal", "porto", T0, T0 + timedelta(hours=1), 120)
    store.apply([gap, gap])  # twice in one batch
    store.apply([gap, replace(gap, location="viseu", count=3)])  # and resent
    later = replace(gap, start=T0 + timedelta(hours=2), end=T0 + timedelta(hours=3), count=7)
    store.apply([later])
    assert store.dropped_counts() == {"porto": 127, "viseu": 3}
    keys = [("portal/http", gap.start, gap.end), ("portal/http", T0, T0)]
    assert open_store().held_dropped("porto", keys) == {keys[0]}
    assert store.held_dropped("lisboa", keys) == set()


def _version_4_tables(metadata: MetaData) -> None:
    """probe_results and incidents as schema version 4 made them (and the alert tables)."""
    for table in [*schema.metadata.sorted_tables, *alerting_tables.metadata.sorted_tables]:
        if table.name == "probe_results":
            cols = [
                Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
                for c in table.columns
                if c.name != "location"
            ]
            Table(
                table.name,
                metadata,
                *cols,
                UniqueConstraint("check", "started_at", name="uq_probe_results_check_started"),
            )
        elif table.name == "incidents":
            cols = [
                Column(
                    c.name,
                    c.type,
                    primary_key=c.primary_key,
                    nullable=c.nullable,
                    autoincrement=False,
                )
                for c in table.columns
                if c.name not in ("locations", "retroactive")
            ]
            Table(table.name, metadata, *cols)
        else:
            table.to_metadata(metadata)


def test_migration_5_brings_a_version_4_database_along(store_url: str) -> None:
    engine = create_engine(store_url)
    old = MetaData()
    _version_4_tables(old)
    with engine.begin() as conn:
        old.create_all(conn)
        for step in migrations.MIGRATIONS[:4]:
            conn.execute(
                insert(old.tables["schema_version"]),
                {"version": step.version, "description": step.description, "applied_at": T0},
            )
        row = result_row(ResultRecorded(result(), False))
        del row["location"]
        conn.execute(insert(old.tables["probe_results"]), row)
        incident = incident_row(Incident(7, "portal", "platina", True, T0, T0))
        del incident["locations"], incident["retroactive"]
        conn.execute(insert(old.tables["incidents"]), incident)
    engine.dispose()

    store = SqlStore.open(store_url)
    try:
        assert store.schema_version() == migrations.LATEST_VERSION >= 5
        [kept] = store.results(check="portal/http")
        assert kept.location == "local" and kept.result == result()
        migrated = store.incident(7)
        assert migrated is not None and migrated.locations == () and not migrated.retroactive
        # the new key: another location may hold the same instant; the same location may not
        store.apply([ResultRecorded(result(), False, "porto"), ResultRecorded(result(), False)])
        with store.transaction() as conn:
            rows = conn.execute(select(schema.probe_results.c.location)).scalars().all()
        assert sorted(rows) == ["local", "porto"]
    finally:
        store.close()
