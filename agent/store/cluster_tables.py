"""The tables of several core nodes on one PostgreSQL database (agent/cluster/): nodes,
partition leases, the audit of fenced commits, ids handed out in blocks, and results waiting
for their partition's owner. Registered on the store's one `metadata`; agent/store/schema.py
names them with the rest.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, PrimaryKeyConstraint, String, Table

from agent.store.cleaning import SafeJSON
from agent.store.columns import ID_CHARS, LOCATION_CHARS, UtcMicros, metadata

# ---- several core nodes (schema version 7; agent/cluster/) ---------------------------------

# Every timestamp of these two tables is written by the database (clock_timestamp()), never by
# a node, so a node whose clock is off cannot extend a lease or look alive by mistake.
cluster_nodes = Table(  # the nodes that ran on this database; live while last_seen is recent
    "cluster_nodes",
    metadata,
    Column("node", String(ID_CHARS), primary_key=True),
    Column("started_at", UtcMicros, nullable=False),
    Column("last_seen", UtcMicros, nullable=False),
    Column("version", String(40), nullable=False),
)

partition_leases = Table(  # one row per partition; its holder alone runs its services
    "partition_leases",
    metadata,
    Column("partition", Integer, primary_key=True, autoincrement=False),
    Column("holder", String(ID_CHARS), nullable=True),  # NULL: free
    Column("epoch", BigInteger, nullable=False),  # +1 at every claim: fences the old holder
    Column("expires_at", UtcMicros, nullable=False),
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
    Column("node", String(ID_CHARS), nullable=False),
    Column("first_at", UtcMicros, nullable=False),
    Column("last_at", UtcMicros, nullable=False),
    Column("batches", BigInteger, nullable=False),
    PrimaryKeyConstraint("partition", "epoch", name="pk_partition_commits"),
)
