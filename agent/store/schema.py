"""Tables (SQLAlchemy Core) and the column encodings shared by SQLite and PostgreSQL.

Timestamps are UTC epoch microseconds in BIGINT columns on both backends: comparisons and
ordering are plain integer arithmetic, exact to the microsecond, with no dialect quirks
(SQLite has no datetime type, and PostgreSQL's would round-trip through the session time zone).
`UtcMicros` converts at the edge, so every value the store returns is timezone-aware UTC.

Engine snapshot records (`CheckStatus`, `ServiceStatus`) are kept as JSON documents beside
their key columns: the engine adds fields to them as it grows, and a document decoded with the
dataclass defaults for missing keys needs no migration for that.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import TypeAdapter
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.types import TypeDecorator

from agent.records import (
    CheckStatus,
    Fragment,
    Incident,
    LocationState,
    ResultPending,
    ResultRecorded,
    ServiceStatus,
    State,
    Transition,
)
from agent.store.base import LATENCY_BUCKETS, CheckRollup, StoredResult
from agent.store.cleaning import SafeJSON, SafeString, SafeText
from checks.result import Outcome, ProbeResult

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} (the store takes aware UTC only)")
    return (value - EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


class UtcMicros(TypeDecorator[datetime]):
    """An aware datetime stored as integer microseconds since the Unix epoch."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        return None if value is None else to_micros(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        return None if value is None else from_micros(int(value))


metadata = MetaData()

LOCAL = "local"
LOCATION_CHARS = 63
RESULT_KEY = ("check", "location", "started_at")  # probe_results' natural key
_ID = 200  # service and check ids are short slugs; 200 leaves room for "<service>/<check>"

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
    Column("check", String(_ID), nullable=False),
    Column("service", String(_ID), nullable=False),
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
    Column("check", String(_ID), nullable=False),
    Column("hour", UtcMicros, nullable=False),
    Column("service", String(_ID), nullable=False),
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
    Column("check", String(_ID), nullable=False),
    Column("location", String(LOCATION_CHARS), nullable=False),
    Column("service", String(_ID), nullable=False),
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
    Column("service", String(_ID), nullable=False),
)

transitions = Table(
    "transitions",
    metadata,
    Column("service", String(_ID), nullable=False),
    Column("at", UtcMicros, nullable=False),
    Column("state", String(16), nullable=False),
    PrimaryKeyConstraint("service", "at", name="pk_transitions"),
)

unknown_intervals = Table(
    "unknown_intervals",
    metadata,
    Column("service", String(_ID), nullable=False),
    Column("start", UtcMicros, nullable=False),
    Column("end", UtcMicros, nullable=False),
    PrimaryKeyConstraint("service", "start", "end", name="pk_unknown_intervals"),
)

# Column names match `Incident` fields so rows map onto the dataclass by name.
incidents = Table(
    "incidents",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # the engine numbers them
    Column("service", String(_ID), nullable=False),
    Column("tier", String(64), nullable=False),
    Column("pcn", Boolean, nullable=False),
    Column("started_at", UtcMicros, nullable=False),
    Column("confirmed_at", UtcMicros, nullable=False),
    Column("ended_at", UtcMicros, nullable=True),
    Column("restore_seconds", Float, nullable=True),
    Column("maintenance_seconds", Float, nullable=False),
    Column("cause", SafeText, nullable=False),
    Column("root_cause", String(_ID), nullable=True),
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
    Column("check", String(_ID), primary_key=True),
    Column("service", String(_ID), nullable=False),
    Column("data", SafeJSON, nullable=False),
)

# One location's state of a check judged over several locations (semantics.md §8), so that a
# restarted core judges a late backlog against what the other locations said (migration 10).
location_state = Table(
    "location_state",
    metadata,
    Column("check", String(_ID), primary_key=True),
    Column("location", String(LOCATION_CHARS), primary_key=True),
    Column("service", String(_ID), nullable=False),
    # duplicated from `data`: where the look-up of the location's newest stored result starts
    Column("last_result_at", UtcMicros, nullable=True),
    Column("data", SafeJSON, nullable=False),
)

# What the workers' full spools dropped (semantics.md §8), one row per reported interval: the
# per-location counts of `GET /api/v1/locations` and /metrics survive a restart (migration 10).
dropped_results = Table(
    "dropped_results",
    metadata,
    Column("check", String(_ID), primary_key=True),
    Column("location", String(LOCATION_CHARS), primary_key=True),
    Column("start", UtcMicros, primary_key=True),
    Column("end", UtcMicros, primary_key=True),
    Column("service", String(_ID), nullable=False),
    Column("count", BigInteger, nullable=False),
)

service_status = Table(
    "service_status",
    metadata,
    Column("service", String(_ID), primary_key=True),
    Column("state", String(16), nullable=False),  # duplicated from `data` for ad-hoc SQL
    Column("data", SafeJSON, nullable=False),
)

flapping_events = Table(
    "flapping_events",
    metadata,
    Column("service", String(_ID), nullable=False),
    Column("at", UtcMicros, nullable=False),
    Column("flapping", Boolean, nullable=False),
    Column("percent", Float, nullable=False),
    PrimaryKeyConstraint("service", "at", "flapping", name="pk_flapping_events"),
)

maintenance_windows = Table(
    "maintenance_windows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", String(_ID), nullable=False),
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
    Column("check", String(_ID), primary_key=True),
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


# ---- JSON documents for dataclass records -------------------------------------------------

R = TypeVar("R")


def encode_record(record: object) -> dict[str, Any]:
    """A JSON-ready dict of a dataclass: datetimes as ISO 8601, enums by value."""
    adapter = _adapter(type(record))  # type: ignore[arg-type]  # a class is hashable
    encoded: dict[str, Any] = adapter.dump_python(record, mode="json")
    return encoded


def decode_record(cls: type[R], data: Mapping[str, Any]) -> R:
    """Rebuild a dataclass from `encode_record` output (or an older one's): keys the dataclass
    no longer has are ignored; fields the document lacks take their defaults."""
    decoded: R = _adapter(cls).validate_python(data)  # type: ignore[arg-type]  # a class is hashable
    return decoded


@functools.cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    # pydantic's compiled (de)serialiser: status rows are encoded on the writer's hot path,
    # where the hand-written codec cost several times more (bench/RESULTS.md "Codec")
    return TypeAdapter(cls)


# ---- rows <-> records ---------------------------------------------------------------------


def result_row(recorded: ResultRecorded) -> dict[str, Any]:
    r = recorded.result
    return {
        "check": r.check,
        "service": r.service,
        "started_at": r.started_at,
        "duration": r.duration,
        "outcome": str(r.outcome),
        "reason": r.reason,
        "measurements": r.measurements,
        "in_maintenance": recorded.in_maintenance,
        "location": recorded.location,
    }


def stored_result_from_row(row: Mapping[Any, Any]) -> StoredResult:
    result = ProbeResult(
        check=row["check"],
        started_at=row["started_at"],
        duration=row["duration"],
        outcome=Outcome(row["outcome"]),
        reason=row["reason"],
        measurements=row["measurements"],
    )
    return StoredResult(result, bool(row["in_maintenance"]), row["location"])


def empty_rollup(check: str, service: str, hour: datetime) -> dict[str, Any]:
    counts = dict.fromkeys((*OUTCOME_COLUMNS, *BUCKET_COLUMNS), 0)
    return {"check": check, "hour": hour, "service": service, "latency_sum": 0.0, **counts}


def rollup_from_row(row: Mapping[Any, Any]) -> CheckRollup:
    return CheckRollup(
        check=row["check"],
        service=row["service"],
        hour=row["hour"],
        ok=row["ok"],
        degraded=row["degraded"],
        fail=row["fail"],
        unknown=row["unknown"],
        latency_sum=row["latency_sum"],
        latency_buckets=tuple(row[name] for name in BUCKET_COLUMNS),
    )


def transition_from_row(row: Mapping[Any, Any]) -> Transition:
    return Transition(service=row["service"], at=row["at"], state=State(row["state"]))


def check_status_row(status: CheckStatus) -> dict[str, Any]:
    return {"check": status.check, "service": status.service, "data": encode_record(status)}


def location_state_row(state: LocationState) -> dict[str, Any]:
    return {
        "check": state.check,
        "location": state.location,
        "service": state.service,
        "last_result_at": state.status.last_result_at,
        "data": encode_record(state),
    }


def service_status_row(status: ServiceStatus) -> dict[str, Any]:
    return {"service": status.service, "state": str(status.state), "data": encode_record(status)}


def pending_row(pending: ResultPending, received_at: datetime) -> dict[str, Any]:
    return {
        "partition": pending.partition,
        "location": pending.location,
        "started_at": pending.result.started_at,
        "payload": encode_record(pending.result),
        "received_at": received_at,
    }


def incident_row(incident: Incident) -> dict[str, Any]:
    """Every `Incident` field has a column of the same name (a contract test checks it)."""
    row = {f.name: getattr(incident, f.name) for f in fields(incident)}
    row["fragments"] = [encode_record(f) for f in incident.fragments]
    return row


def incident_from_row(row: Mapping[Any, Any]) -> Incident:
    values = dict(row)
    values["fragments"] = tuple(decode_record(Fragment, f) for f in values["fragments"])
    values["pcn"], values["inhibited"] = bool(values["pcn"]), bool(values["inhibited"])
    values["locations"] = tuple(values["locations"])
    values["retroactive"] = bool(values["retroactive"])
    return Incident(**values)


# ---- several core nodes (schema version 7; agent/cluster/) ---------------------------------

# Every timestamp of these two tables is written by the database (clock_timestamp()), never by
# a node, so a node whose clock is off cannot extend a lease or look alive by mistake.
cluster_nodes = Table(  # the nodes that ran on this database; live while last_seen is recent
    "cluster_nodes",
    metadata,
    Column("node", String(_ID), primary_key=True),
    Column("started_at", UtcMicros, nullable=False),
    Column("last_seen", UtcMicros, nullable=False),
    Column("version", String(40), nullable=False),
)

partition_leases = Table(  # one row per partition; its holder alone runs its services
    "partition_leases",
    metadata,
    Column("partition", Integer, primary_key=True, autoincrement=False),
    Column("holder", String(_ID), nullable=True),  # NULL: free
    Column("epoch", BigInteger, nullable=False),  # +1 at every claim: fences the old holder
    Column("expires_at", UtcMicros, nullable=False),
)


# ---- public messages (schema version 8; agent/status/) -------------------------------------

# What an operator tells the public about an incident or a service, shown on /status: never
# the incident's cause or anything else internal. Exactly one of `incident` and `service`.
public_messages = Table(
    "public_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident", BigInteger, ForeignKey("incidents.id"), nullable=True),
    Column("service", String(_ID), nullable=True),
    Column("text", SafeText, nullable=False),
    Column("author", SafeString(200), nullable=False),
    Column("written_at", UtcMicros, nullable=False),
    Index("ix_public_messages_incident", "incident", "id"),
    Index("ix_public_messages_service", "service", "id"),
)


# ---- several core nodes, wired into the agent (schema version 11; agent/cluster/) ----------

# Numbers the store hands out in blocks (`SqlStore.reserve_ids`): incident ids come from here,
# not from a process counter, so two nodes on one database never issue the same id.
id_counters = Table(
    "id_counters",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("next", BigInteger, nullable=False),  # the first id not yet handed out
)

# Probe results for a partition this node does not own (or no longer owns): they wait here for
# the owner, who judges them and deletes them in the same fenced transaction (docs/semantics.md
# "Several core nodes"). `payload` is the ProbeResult as a JSON document.
pending_results = Table(
    "pending_results",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("partition", Integer, nullable=False),
    Column("location", String(LOCATION_CHARS), nullable=False),
    Column("started_at", UtcMicros, nullable=False),
    Column("payload", SafeJSON, nullable=False),
    Column("received_at", UtcMicros, nullable=False),
    Index("ix_pending_results_partition", "partition", "started_at"),
)

# The audit of fenced commits: per partition and epoch, who committed and when first and last
# (database time). A commit after the next epoch began would show as last_at > its first_at.
partition_commits = Table(
    "partition_commits",
    metadata,
    Column("partition", Integer, nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("node", String(_ID), nullable=False),
    Column("first_at", UtcMicros, nullable=False),
    Column("last_at", UtcMicros, nullable=False),
    Column("batches", BigInteger, nullable=False),
    PrimaryKeyConstraint("partition", "epoch", name="pk_partition_commits"),
)
