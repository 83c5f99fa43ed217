"""What the cluster's own alert rules watch (`ClusterNodeDown`, `PartitionUnowned`), read from
the lease tables in database time (semantics.md §9).

- A node is down when its heartbeat row is older than one lease time: it stopped renewing, so
  its partitions are (or are about to be) taken over. A clean shutdown deletes the row: a node
  that left on purpose is not down.
- A partition is unowned when no node holds an unexpired lease on it; it is worth an alert only
  after two lease times, well past a failover (one lease plus one renewal interval). The time is
  counted from the lease's expiry (or release), but never from before the oldest live node
  started: a cluster brought back after a pause has not been "unowned" while nobody ran.

One node judges these for the whole cluster, the holder of partition 0, so each fires once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Connection, select, type_coerce

from agent.cluster.lease import DB_NOW, LeaseConfig
from agent.store import schema as t

UNOWNED_AFTER_LEASES = 2  # PartitionUnowned: no live lease for longer than this many lease times

_leases = t.partition_leases
_nodes = t.cluster_nodes


@dataclass(frozen=True, slots=True)
class ClusterHealth:
    nodes_down: tuple[str, ...] = ()  # heartbeat older than the lease, by name
    partitions_unowned: tuple[int, ...] = ()  # without a live lease for > 2 lease times
    lease_seconds: float = 0.0


def read_health(conn: Connection, config: LeaseConfig) -> ClusterHealth:
    lease = config.lease_micros
    silent = type_coerce(DB_NOW - _nodes.c.last_seen, BigInteger).label("silent")
    age = type_coerce(DB_NOW - _nodes.c.started_at, BigInteger).label("age")
    nodes = conn.execute(select(_nodes.c.node, silent, age).order_by(_nodes.c.node)).all()
    down = tuple(str(name) for name, quiet, _ in nodes if quiet > lease)
    oldest_live = max((int(a) for _, quiet, a in nodes if quiet <= lease), default=0)
    # >= 0: no live lease, for that long
    overdue = type_coerce(DB_NOW - _leases.c.expires_at, BigInteger).label("overdue")
    rows = conn.execute(
        select(_leases.c.partition, overdue)
        .where(_leases.c.partition < config.partitions)
        .order_by(_leases.c.partition)
    ).all()
    limit = UNOWNED_AFTER_LEASES * lease
    unowned = tuple(int(p) for p, late in rows if late >= 0 and min(int(late), oldest_live) > limit)
    return ClusterHealth(down, unowned, config.lease_seconds)
