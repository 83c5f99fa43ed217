"""`SqlStore`: the `Store` contract (agent/store/base.py) on SQLite or PostgreSQL, with one code
path, composed of one class per concern over one `SqlDatabase`."""

from __future__ import annotations

from agent.store.sql.audit import AuditRecords
from agent.store.sql.incidents import IncidentRecords
from agent.store.sql.maintenance import MaintenanceRecords
from agent.store.sql.results import ResultReading
from agent.store.sql.snapshot import SnapshotReading
from agent.store.sql.writing import EffectWriting


class SqlStore(
    EffectWriting,
    SnapshotReading,
    ResultReading,
    IncidentRecords,
    MaintenanceRecords,
    AuditRecords,
):
    """The whole store: each base class is one concern, all share the engine of
    `SqlDatabase`. Thread-safe: every call takes its own pooled connection."""
