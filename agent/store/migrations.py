"""Versioned schema migrations.

`schema_version` holds one row per applied step. `migrate` applies, in one transaction, every
step the database has not recorded, in order; running it again does nothing. To change the
schema, edit `schema.py` AND append a step that brings an existing database to the same shape
(step 1 creates the tables from `schema.metadata`, so it must stay the first step and new steps
must tolerate a database that step 1 created with the newer definitions — e.g. guard ALTERs
with the inspector).

The history is one for the whole database, but its tables have several owners: a package that
owns tables (alerting: alerting/tables.py) gives its part of each step as `{version: apply}`,
and the step runs the store's part, then each owner's. An owner's new step needs a new entry
here, whose store part may do nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, func, insert, inspect, select

from agent.store import schema
from agent.store.errors import SchemaVersionError
from alerting import tables as alerting_tables

Step = Callable[[Connection], None]
# every package that owns tables in the database, with its part of the numbered steps
OWNERS: tuple[Mapping[int, Step], ...] = (alerting_tables.STEPS,)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Step


def _create_tables(conn: Connection) -> None:
    schema.metadata.create_all(conn, checkfirst=True)


def _nothing(conn: Connection) -> None:
    """A step that only other owners' tables take part in (alerting: the outbox)."""


def _create_audit(conn: Connection) -> None:
    # A database created by step 1 of this code already has the table: checkfirst skips it.
    schema.audit_log.create(conn, checkfirst=True)


def _create_quarantine(conn: Connection) -> None:
    schema.quarantine.create(conn, checkfirst=True)


def _create_clock_steps(conn: Connection) -> None:
    schema.clock_steps.create(conn, checkfirst=True)


def _create_cluster_tables(conn: Connection) -> None:
    for table in (schema.cluster_nodes, schema.partition_leases):
        table.create(conn, checkfirst=True)


def _create_public_messages(conn: Connection) -> None:
    schema.public_messages.create(conn, checkfirst=True)


def _add_locations(conn: Connection) -> None:
    """Results carry their location, keyed (check, location, started_at); incidents name
    their locations and whether late results changed them (semantics.md §8)."""
    inspector = inspect(conn)
    results = {c["name"] for c in inspector.get_columns(schema.probe_results.name)}
    if "location" not in results:
        if conn.dialect.name == "sqlite":
            _rebuild_results_sqlite(conn)
        else:
            _alter_results(conn)
    incidents = {c["name"] for c in inspector.get_columns(schema.incidents.name)}
    json_type = schema.incidents.c.locations.type.compile(dialect=conn.dialect)
    if "locations" not in incidents:
        conn.exec_driver_sql(
            f"ALTER TABLE incidents ADD COLUMN locations {json_type} NOT NULL DEFAULT '[]'"
        )
    if "retroactive" not in incidents:
        conn.exec_driver_sql(
            "ALTER TABLE incidents ADD COLUMN retroactive BOOLEAN NOT NULL DEFAULT false"
        )


def _alter_results(conn: Connection) -> None:
    """PostgreSQL: a new column with a default is instant; swap the unique key."""
    conn.exec_driver_sql(
        f"ALTER TABLE probe_results ADD COLUMN location VARCHAR({schema.LOCATION_CHARS}) "
        "NOT NULL DEFAULT 'local'"
    )
    conn.exec_driver_sql(
        "ALTER TABLE probe_results DROP CONSTRAINT IF EXISTS uq_probe_results_check_started"
    )
    conn.exec_driver_sql(
        "ALTER TABLE probe_results ADD CONSTRAINT uq_probe_results_check_location_started "
        'UNIQUE ("check", location, started_at)'
    )


def _rebuild_results_sqlite(conn: Connection) -> None:
    """SQLite cannot drop a table's unique constraint: copy the rows into the new table."""
    conn.exec_driver_sql("ALTER TABLE probe_results RENAME TO probe_results_v4")
    for index in schema.probe_results.indexes:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
    schema.probe_results.create(conn)
    columns = ", ".join(f'"{c.name}"' for c in schema.probe_results.columns if c.name != "location")
    conn.exec_driver_sql(
        f"INSERT INTO probe_results ({columns}, location) "
        f"SELECT {columns}, 'local' FROM probe_results_v4"
    )
    conn.exec_driver_sql("DROP TABLE probe_results_v4")


def _create_report_archive(conn: Connection) -> None:
    schema.report_archive.create(conn, checkfirst=True)


def _create_location_tables(conn: Connection) -> None:
    for table in (schema.location_state, schema.dropped_results):
        table.create(conn, checkfirst=True)


def _wire_cluster(conn: Connection) -> None:
    """Incident ids from the database, results waiting for their partition's owner, the
    commit audit (issue #15; alerting's part adds the partition of outbox and alert rows)."""
    for table in (schema.id_counters, schema.pending_results, schema.partition_commits):
        table.create(conn, checkfirst=True)
    highest = conn.execute(select(func.max(schema.incidents.c.id))).scalar()
    exists = select(schema.id_counters.c.name).where(schema.id_counters.c.name == "incident")
    if conn.execute(exists).first() is None:
        conn.execute(insert(schema.id_counters), {"name": "incident", "next": (highest or 0) + 1})


def _create_result_rollups(conn: Connection) -> None:
    """The tables compaction needs; the agent's first compaction pass then rolls up the ok
    results an existing database holds (agent/store/compaction.py)."""
    for table in (schema.result_rollups, schema.compaction_progress):
        table.create(conn, checkfirst=True)


def _create_heartbeat_beats(conn: Connection) -> None:
    schema.heartbeat_beats.create(conn, checkfirst=True)


_STORE_STEPS: tuple[Migration, ...] = (
    Migration(1, "create tables", _create_tables),
    Migration(2, "alert outbox", _nothing),
    Migration(3, "alert state, acknowledgements, audit log", _create_audit),
    Migration(4, "quarantine of records the database refused", _create_quarantine),
    Migration(5, "probe locations: results keyed by location, incidents name them", _add_locations),
    Migration(6, "wall-clock steps", _create_clock_steps),
    Migration(7, "cluster nodes and partition leases", _create_cluster_tables),
    Migration(8, "public messages of the status page", _create_public_messages),
    Migration(9, "archive of scheduled reports", _create_report_archive),
    Migration(10, "per-location check state, dropped results", _create_location_tables),
    Migration(11, "cluster: incident ids, pending results, commit audit", _wire_cluster),
    Migration(12, "rollups of compacted probe results", _create_result_rollups),
    Migration(13, "the newest beat of each heartbeat check", _create_heartbeat_beats),
)


def with_owners(
    steps: Sequence[Migration], owners: Sequence[Mapping[int, Step]]
) -> tuple[Migration, ...]:
    """Each step running the store's part, then every owner's part of the same version."""
    numbered = {step.version for step in steps}
    for owner in owners:
        if unknown := sorted(set(owner) - numbered):
            raise ValueError(f"schema steps {unknown} have no entry in the store's history")
    return tuple(
        Migration(step.version, step.description, _chained([step.apply, *parts]))
        for step in steps
        for parts in [[owner[step.version] for owner in owners if step.version in owner]]
    )


def _chained(parts: Sequence[Step]) -> Step:
    if len(parts) == 1:
        return parts[0]

    def apply(conn: Connection) -> None:
        for part in parts:
            part(conn)

    return apply


MIGRATIONS = with_owners(_STORE_STEPS, OWNERS)
LATEST_VERSION = MIGRATIONS[-1].version


def current_version(conn: Connection) -> int:
    """The database's schema version; 0 for an empty database."""
    if not inspect(conn).has_table(schema.schema_version.name):
        return 0
    version = conn.execute(select(func.max(schema.schema_version.c.version))).scalar()
    return int(version or 0)


def applied_versions(conn: Connection) -> set[int]:
    if not inspect(conn).has_table(schema.schema_version.name):
        return set()
    return set(conn.execute(select(schema.schema_version.c.version)).scalars())


def migrate(
    conn: Connection,
    migrations: Sequence[Migration] = MIGRATIONS,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[int]:
    """Apply pending steps on `conn` (the caller owns the transaction); returns their versions.

    A step is pending when the database has not recorded it, not merely when it is newer than
    the newest one recorded: numbers are handed out to branches in advance, so a database can
    have run 12 before the code that brings 10 and 11 arrives, and must still get them. Every
    step therefore stands alone (creates what it needs with checkfirst, guards its ALTERs)."""
    schema.schema_version.create(conn, checkfirst=True)
    version = current_version(conn)
    done = applied_versions(conn)
    known = max((m.version for m in migrations), default=0)
    if version > known:
        raise SchemaVersionError(
            f"database schema version {version} is newer than this agent's {known}: "
            "upgrade the agent instead of running an older one on this database"
        )
    applied = []
    for step in sorted(migrations, key=lambda m: m.version):
        if step.version in done:
            continue
        step.apply(conn)
        conn.execute(
            insert(schema.schema_version),
            {"version": step.version, "description": step.description, "applied_at": now()},
        )
        applied.append(step.version)
    return applied
