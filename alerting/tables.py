"""The tables alerting owns in vigia's database, and its share of the numbered schema steps.

The store keeps one numbered history for the whole database (agent/store/migrations.py) and
runs, at each step, the part of every package that owns tables; `STEPS` is alerting's part.
The numbers and what each did are history: a database migrated by an older agent must be
taken as it is, so a step here is never renumbered or changed, only added.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy import BigInteger, Column, Connection, Index, Integer, MetaData, String, Table
from sqlalchemy import inspect as inspect_schema

from agent.store.cleaning import SafeJSON, SafeString, SafeText
from agent.store.columns import UtcMicros

metadata = MetaData()

_ALERT_ID = 400  # "<rule>/<service>[/<check>]"
_NAME = 200  # a receiver's name: a short slug, like a service id

# ---- the outbox (schema version 2) ---------------------------------------------------------

# One row per (notification, receiver), written before anything is sent. `payload` is the
# notification as a JSON document; `alert_id` and `status` are copied out for queries.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("alert_id", String(_ALERT_ID), nullable=False),
    Column("status", String(16), nullable=False),  # firing | resolved
    Column("receiver", String(_NAME), nullable=False),
    Column("payload", SafeJSON, nullable=False),
    Column("created_at", UtcMicros, nullable=False),
    Column("next_attempt_at", UtcMicros, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # pending | delivered | failed
    Column("last_error", SafeText, nullable=False),
    Column("last_attempt_at", UtcMicros, nullable=True),
    Column("delivered_at", UtcMicros, nullable=True),
    # the partition of the alert's service (schema version 11): in a cluster only its owner
    # sends the row; NULL for alerts of no service (the agent's own), sent by any node
    Column("partition", Integer, nullable=True),
    Index("ix_outbox_state_next", "state", "next_attempt_at"),  # due(), backlog()
    Index("ix_outbox_receiver_alert", "receiver", "alert_id", "id"),  # per-alert ordering
    Index("ix_outbox_alert", "alert_id", "id"),  # history()
    Index("ix_outbox_created", "created_at"),  # prune()
)

# ---- alert state and acknowledgements (schema version 3) -----------------------------------

alert_state = Table(  # the evaluator's active alerts, rewritten each tick
    "alert_state",
    metadata,
    Column("alert_id", String(_ALERT_ID), primary_key=True),
    Column("data", SafeJSON, nullable=False),
    Column("updated_at", UtcMicros, nullable=False),
    # the partition of the alert's service (schema version 11): a node rewrites only the
    # rows of the partitions it owns; NULL for alerts of no service
    Column("partition", Integer, nullable=True),
)

alert_acks = Table(  # acknowledgements from the CLI/API; the agent applies them
    "alert_acks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", String(_ALERT_ID), nullable=False),
    Column("author", SafeString(200), nullable=False),
    Column("comment", SafeText, nullable=False),
    Column("created_at", UtcMicros, nullable=False),
    Column("applied_at", UtcMicros, nullable=True),
    Index("ix_alert_acks_alert", "alert_id"),
)


# ---- alerting's part of the numbered steps -------------------------------------------------


def _create_tables(conn: Connection) -> None:
    # step 1 creates every table as the code defines it now; later steps then find them
    metadata.create_all(conn, checkfirst=True)


def _create_outbox(conn: Connection) -> None:
    outbox.create(conn, checkfirst=True)


def _create_state_and_acks(conn: Connection) -> None:
    for table in (alert_state, alert_acks):
        table.create(conn, checkfirst=True)


def _add_partitions(conn: Connection) -> None:
    """The partition of outbox and alert rows (issue #15), on a database made before it."""
    inspector = inspect_schema(conn)
    for table in (outbox, alert_state):
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        if "partition" not in columns:
            conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "partition" INTEGER')


STEPS: Mapping[int, Callable[[Connection], None]] = {
    1: _create_tables,
    2: _create_outbox,
    3: _create_state_and_acks,
    11: _add_partitions,
}
