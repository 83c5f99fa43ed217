"""The store's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

How columns encode values is in agent/store/columns.py (timestamps as UTC epoch microseconds),
the JSON documents in agent/store/codec.py, rows <-> records in agent/store/rows.py, the tables
of several core nodes in agent/store/cluster_tables.py. Every table is named here.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from agent.store.base import LATENCY_BUCKETS
from agent.store.cleaning import SafeJSON, SafeString, SafeText
from agent.store.cluster_tables import cluster_nodes as cluster_nodes
from agent.store.cluster_tables import id_counters as id_counters
from agent.store.cluster_tables import partition_commits as partition_commits
from agent.store.cluster_tables import partition_leases as partition_leases
from agent.store.cluster_tables import pending_results as pending_results
from agent.store.codec import decode_record as decode_record
from agent.store.codec import encode_record as encode_record
from agent.store.columns import EPOCH as EPOCH
from agent.store.columns import ID_CHARS
from agent.store.columns import LOCATION_CHARS as LOCATION_CHARS
from agent.store.columns import UtcMicros as UtcMicros  # for tables outside the store
from agent.store.columns import metadata as metadata

LOCAL = "local"
RESULT_KEY = ("check", "location", "started_at")  # probe_results' natural key

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at", UtcMicros, nullable=False),
)

probe_results = Table(
    "probe_results",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("check", String(ID_CHARS), nullable=False),
    Column("service", String(ID_CHARS), nullable=False),
    Column("started_at", UtcMicros, nullable=False),
    Column("duration", Float, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reason", SafeText, nullable=False),
    Column("measurements", SafeJSON, nullable=False),
    Column("in_maintenance", Boolean, nullable=False),
    # where it was probed from (semantics.md §8); `local`: the core's own probes
    Column("location", String(LOCATION_CHARS), nullable=False, server_default=LOCAL),
    # The natural key: re-applying a batch after a crash, or a worker resending its spool,
    # skips what is already there.
    UniqueConstraint(
        "check", "location", "started_at", name="uq_probe_results_check_location_started"
    ),
    Index("ix_probe_results_service_started", "service", "started_at"),
    Index("ix_probe_results_started", "started_at"),  # prune
)

# Hourly rollups are kept forever; bucket_<i> counts results with
# LATENCY_BUCKETS[i-1] < duration <= LATENCY_BUCKETS[i] (per bucket, NOT cumulative).
BUCKET_COLUMNS = tuple(f"bucket_{i}" for i in range(len(LATENCY_BUCKETS)))
OUTCOME_COLUMNS = ("ok", "degraded", "fail", "unknown")

check_rollups = Table(
    "check_rollups",
    metadata,
    Column("check", String(ID_CHARS), nullable=False),
    Column("hour", UtcMicros, nullable=False),
    Column("service", String(ID_CHARS), nullable=False),
    *(Column(name, BigInteger, nullable=False) for name in OUTCOME_COLUMNS),
    Column("latency_sum", Float, nullable=False),
    *(Column(name, BigInteger, nullable=False) for name in BUCKET_COLUMNS),
    PrimaryKeyConstraint("check", "hour", name="pk_check_rollups"),
    Index("ix_check_rollups_service_hour", "service", "hour"),
    Index("ix_check_rollups_hour", "hour"),
)

# ---- compacted results (schema version 12; agent/store/compaction.py) ----------------------

# What raw results leave behind when compaction deletes them, per UTC hour, check and location:
# outcome counts, maintenance count, duration sum/min/max and phase sums. Only the deleted rows
# are counted here (the rows kept raw are not), so raw rows + these rows = every result. Kept
# for ever; the hour-ordered primary key serves both the compaction upserts and the range reads.
result_rollups = Table(
    "result_rollups",
    metadata,
    Column("hour", UtcMicros, nullable=False),
    Column("check", String(ID_CHARS), nullable=False),
    Column("location", String(LOCATION_CHARS), nullable=False),
    Column("service", String(ID_CHARS), nullable=False),
    *(Column(name, Integer, nullable=False) for name in OUTCOME_COLUMNS),
    Column("in_maintenance", Integer, nullable=False),
    Column("duration_sum", Float, nullable=False),
    Column("duration_min", Float, nullable=False),
    Column("duration_max", Float, nullable=False),
    # {"phase_connect": [sum of seconds, results that had the phase], ...}
    Column("phases", SafeJSON, nullable=False),
    PrimaryKeyConstraint("hour", "check", "location", name="pk_result_rollups"),
    sqlite_with_rowid=False,  # the key is the table: no second copy of it in a rowid b-tree
)

# One row per compaction kind: how far it got (the hour it is in and the last service of that
# hour it finished), and the row every compacting transaction locks, so two core nodes on one
# PostgreSQL never roll the same rows up twice.
compaction_progress = Table(
    "compaction_progress",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("hour", UtcMicros, nullable=False),
    Column("service", String(ID_CHARS), nullable=False),
)

transitions = Table(
    "transitions",
    metadata,
    Column("service", String(ID_CHARS), nullable=False),
    Column("at", UtcMicros, nullable=False),
    Column("state", String(16), nullable=False),
    PrimaryKeyConstraint("service", "at", name="pk_transitions"),
)

unknown_intervals = Table(
    "unknown_intervals",
    metadata,
    Column("service", String(ID_CHARS), nullable=False),
    Column("start", UtcMicros, nullable=False),
    Column("end", UtcMicros, nullable=False),
    PrimaryKeyConstraint("service", "start", "end", name="pk_unknown_intervals"),
)

# Column names match `Incident` fields so rows map onto the dataclass by name.
incidents = Table(
    "incidents",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # the engine numbers them
    Column("service", String(ID_CHARS), nullable=False),
    Column("tier", String(64), nullable=False),
    Column("pcn", Boolean, nullable=False),
    Column("started_at", UtcMicros, nullable=False),
    Column("confirmed_at", UtcMicros, nullable=False),
    Column("ended_at", UtcMicros, nullable=True),
    Column("restore_seconds", Float, nullable=True),
    Column("maintenance_seconds", Float, nullable=False),
    Column("cause", SafeText, nullable=False),
    Column("root_cause", String(ID_CHARS), nullable=True),
    Column("inhibited", Boolean, nullable=False),
    Column("fragments", SafeJSON, nullable=False),
    Column("locations", SafeJSON, nullable=False, server_default=text("'[]'")),
    Column("retroactive", Boolean, nullable=False, server_default=false()),
    Index("ix_incidents_service_started", "service", "started_at"),
    Index("ix_incidents_ended", "ended_at"),
)

check_status = Table(
    "check_status",
    metadata,
    Column("check", String(ID_CHARS), primary_key=True),
    Column("service", String(ID_CHARS), nullable=False),
    Column("data", SafeJSON, nullable=False),
)

# One location's state of a check judged over several locations (semantics.md §8), so that a
# restarted core judges a late backlog against what the other locations said (migration 10).
location_state = Table(
    "location_state",
    metadata,
    Column("check", String(ID_CHARS), primary_key=True),
    Column("location", String(LOCATION_CHARS), primary_key=True),
    Column("service", String(ID_CHARS), nullable=False),
    # duplicated from `data`: where the look-up of the location's newest stored result starts
    Column("last_result_at", UtcMicros, nullable=True),
    Column("data", SafeJSON, nullable=False),
)

# What the workers' full spools dropped (semantics.md §8), one row per reported interval: the
# per-location counts of `GET /api/v1/locations` and /metrics survive a restart (migration 10).
dropped_results = Table(
    "dropped_results",
    metadata,
    Column("check", String(ID_CHARS), primary_key=True),
    Column("location", String(LOCATION_CHARS), primary_key=True),
    Column("start", UtcMicros, primary_key=True),
    Column("end", UtcMicros, primary_key=True),
    Column("service", String(ID_CHARS), nullable=False),
    Column("count", BigInteger, nullable=False),
)

service_status = Table(
    "service_status",
    metadata,
    Column("service", String(ID_CHARS), primary_key=True),
    Column("state", String(16), nullable=False),  # duplicated from `data` for ad-hoc SQL
    Column("data", SafeJSON, nullable=False),
)

flapping_events = Table(
    "flapping_events",
    metadata,
    Column("service", String(ID_CHARS), nullable=False),
    Column("at", UtcMicros, nullable=False),
    Column("flapping", Boolean, nullable=False),
    Column("percent", Float, nullable=False),
    PrimaryKeyConstraint("service", "at", "flapping", name="pk_flapping_events"),
)

maintenance_windows = Table(
    "maintenance_windows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", String(ID_CHARS), nullable=False),
    Column("start", UtcMicros, nullable=False),
    Column("end", UtcMicros, nullable=False),
    Column("reason", SafeText, nullable=False),
    Column("created_at", UtcMicros, nullable=False),
    Column("author", SafeString(200), nullable=False),
    Column("cancelled_at", UtcMicros, nullable=True),
    Index("ix_maintenance_windows_service_start", "service", "start"),
)

incident_annotations = Table(
    "annotations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident", BigInteger, ForeignKey("incidents.id"), nullable=False),
    Column("field", String(32), nullable=False),
    Column("text", SafeText, nullable=False),
    Column("author", SafeString(200), nullable=False),
    Column("created_at", UtcMicros, nullable=False),
    Index("ix_annotations_incident", "incident", "id"),
)

# One row (id 1): only the newest heartbeat matters; silences are recorded as unknown intervals.
agent_heartbeat = Table(
    "agent_heartbeat",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("at", UtcMicros, nullable=False),
)

heartbeat_beats = Table(  # schema version 13: the newest beat of each `heartbeat` check
    # any node takes a beat; the check's owner reads it from here (semantics.md §9), and a
    # restarted agent goes on from it instead of "no heartbeat since the agent started"
    "heartbeat_beats",
    metadata,
    Column("check", String(ID_CHARS), primary_key=True),
    Column("last_at", UtcMicros, nullable=False),
)


# ---- the audit trail (schema version 3; alerting/tables.py holds the alert tables) -----

quarantine = Table(  # effects the database refused as data: kept here, not retried for ever
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcMicros, nullable=False),
    Column("kind", SafeString(100), nullable=False),
    Column("record", SafeText, nullable=False),
    Column("error", SafeText, nullable=False),
)

clock_steps = Table(  # wall-clock steps the agent saw: results stamped around them are suspect
    "clock_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcMicros, nullable=False),  # the wall time after the step
    Column("seconds", Float, nullable=False),  # positive: the wall clock jumped forward
    Index("ix_clock_steps_at", "at"),
)

audit_log = Table(  # every write through the API: who, what, when
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcMicros, nullable=False),
    Column("actor", SafeString(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", SafeString(100), nullable=False),
    Column("target", SafeString(400), nullable=False),
    Column("detail", SafeJSON, nullable=False),
    Index("ix_audit_log_at", "at"),
)


report_archive = Table(  # every scheduled or re-run report file: a new version, never overwritten
    "report_archive",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),  # monthly | quarterly
    Column("period", String(20), nullable=False),  # 2026-10, 2026-Q4
    Column("version", Integer, nullable=False),  # 1 for the scheduled run, +1 at each re-run
    Column("path", SafeText, nullable=False),  # the file under the archive directory
    Column("sha256", String(64), nullable=False),  # of the file's bytes
    Column("bytes", BigInteger, nullable=False),
    Column("made_at", UtcMicros, nullable=False),
    Column("mailed_at", UtcMicros, nullable=True),  # NULL: not e-mailed (yet)
    UniqueConstraint("kind", "period", "version", name="uq_report_archive_version"),
)


# ---- public messages (schema version 8; agent/status/) -------------------------------------

# What an operator tells the public about an incident or a service, shown on /status: never
# the incident's cause or anything else internal. Exactly one of `incident` and `service`.
public_messages = Table(
    "public_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident", BigInteger, ForeignKey("incidents.id"), nullable=True),
    Column("service", String(ID_CHARS), nullable=True),
    Column("text", SafeText, nullable=False),
    Column("author", SafeString(200), nullable=False),
    Column("written_at", UtcMicros, nullable=False),
    Index("ix_public_messages_incident", "incident", "id"),
    Index("ix_public_messages_service", "service", "id"),
)
