"""Versioned schema migrations.

`schema_version` holds one row per applied step. `migrate` applies, in one transaction, every
step newer than the database's version, in order; running it again does nothing. To change the
schema, edit `schema.py` AND append a step that brings an existing database to the same shape
(step 1 creates the tables from `schema.metadata`, so it must stay the first step and new steps
must tolerate a database that step 1 created with the newer definitions — e.g. guard ALTERs
with the inspector).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, func, insert, inspect, select

from agent.store import schema
from agent.store.errors import SchemaVersionError


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _create_tables(conn: Connection) -> None:
    schema.metadata.create_all(conn, checkfirst=True)


def _create_outbox(conn: Connection) -> None:
    # A database created by step 1 of this code already has the table: checkfirst skips it.
    schema.outbox.create(conn, checkfirst=True)


def _create_alert_state_and_audit(conn: Connection) -> None:
    for table in (schema.alert_state, schema.alert_acks, schema.audit_log):
        table.create(conn, checkfirst=True)


def _create_quarantine(conn: Connection) -> None:
    schema.quarantine.create(conn, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "create tables", _create_tables),
    Migration(2, "alert outbox", _create_outbox),
    Migration(3, "alert state, acknowledgements, audit log", _create_alert_state_and_audit),
    Migration(4, "quarantine of records the database refused", _create_quarantine),
)

LATEST_VERSION = MIGRATIONS[-1].version


def current_version(conn: Connection) -> int:
    """The database's schema version; 0 for an empty database."""
    if not inspect(conn).has_table(schema.schema_version.name):
        return 0
    version = conn.execute(select(func.max(schema.schema_version.c.version))).scalar()
    return int(version or 0)


def migrate(
    conn: Connection,
    migrations: Sequence[Migration] = MIGRATIONS,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[int]:
    """Apply pending steps on `conn` (the caller owns the transaction); returns their versions."""
    schema.schema_version.create(conn, checkfirst=True)
    version = current_version(conn)
    known = max((m.version for m in migrations), default=0)
    if version > known:
        raise SchemaVersionError(
            f"database schema version {version} is newer than this agent's {known}: "
            "upgrade the agent instead of running an older one on this database"
        )
    applied = []
    for step in sorted(migrations, key=lambda m: m.version):
        if step.version <= version:
            continue
        step.apply(conn)
        conn.execute(
            insert(schema.schema_version),
            {"version": step.version, "description": step.description, "applied_at": now()},
        )
        applied.append(step.version)
    return applied
