"""Partition leases with fencing, on PostgreSQL's own row locks and clock.

A lease row says which node (`holder`) runs a partition's services, until when (`expires_at`)
and under which `epoch`. Every time is the database's `clock_timestamp()`: nodes' clocks are
never compared with each other. A claim takes free or expired rows with
`SELECT ... FOR UPDATE SKIP LOCKED` (two nodes claiming at once get disjoint rows, neither
waits) and adds one to the epoch; a renewal extends only rows whose holder and epoch still
match and that have not expired. The fence, `assert_leases`, runs inside the transaction it
protects and takes a share lock on the lease rows: a claim skips locked rows, so no other node
can take a partition over between the check and the commit; a node that was paused or cut off
finds its epoch outdated and raises `LeaseLostError`, and its transaction commits nothing.

Every function takes the caller's connection and runs inside the caller's transaction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    delete,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql

from agent.cluster.errors import LeaseLostError, PartitionCountError
from agent.cluster.partitions import MAX_PARTITIONS
from agent.store import schema as t

# Database time in the store's encoding (UTC epoch microseconds). clock_timestamp(), not now():
# now() is frozen at the start of the transaction, and a transaction that waited on a lock
# would judge expiry by a time already past.
DB_NOW = literal_column("(extract(epoch from clock_timestamp()) * 1000000)::bigint", BigInteger)
_MICROS = 1_000_000

_leases = t.partition_leases
_nodes = t.cluster_nodes


@dataclass(frozen=True, slots=True)
class LeaseConfig:
    node: str  # this node's id, unique in the cluster
    partitions: int = 64
    lease_seconds: float = 15.0
    version: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.partitions <= MAX_PARTITIONS:
            raise ValueError(f"partitions must be in 1..{MAX_PARTITIONS}, not {self.partitions}")
        if not self.lease_seconds > 0:
            raise ValueError(f"lease_seconds must be > 0, not {self.lease_seconds}")
        if not self.node:
            raise ValueError("a cluster node needs a non-empty id")

    @property
    def lease_micros(self) -> int:
        return int(self.lease_seconds * _MICROS)


@dataclass(frozen=True, slots=True)
class LeaseRow:
    partition: int
    holder: str | None
    epoch: int
    expires_at: datetime
    expired: bool


def fair_share(partitions: int, live_nodes: int) -> int:
    """Partitions per live node, rounded up: every partition finds an owner."""
    return math.ceil(partitions / max(1, live_nodes))


def ensure_partitions(conn: Connection, config: LeaseConfig) -> None:
    """One row per partition, free at epoch 0; refuses a database set up with another count."""
    rows = [
        {"partition": p, "holder": None, "epoch": 0, "expires_at": t.EPOCH}
        for p in range(config.partitions)
    ]
    conn.execute(postgresql.insert(_leases).on_conflict_do_nothing(), rows)
    highest = conn.execute(select(func.max(_leases.c.partition))).scalar_one()
    if highest is not None and highest >= config.partitions:
        raise PartitionCountError(
            f"this database has {highest + 1} partitions and this node is configured with "
            f"{config.partitions}: every node of a cluster needs the same cluster.partitions"
        )


def heartbeat(conn: Connection, config: LeaseConfig) -> None:
    """This node is alive now (database time)."""
    stmt = postgresql.insert(_nodes).values(
        node=config.node, started_at=DB_NOW, last_seen=DB_NOW, version=config.version
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[_nodes.c.node],
            set_={"last_seen": DB_NOW, "version": stmt.excluded.version},
        )
    )


def live_nodes(conn: Connection, config: LeaseConfig) -> int:
    """Nodes seen within one lease time."""
    alive = _nodes.c.last_seen > DB_NOW - config.lease_micros
    return int(conn.execute(select(func.count()).select_from(_nodes).where(alive)).scalar_one())


def claim(conn: Connection, config: LeaseConfig, wanted: int) -> dict[int, int]:
    """Take up to `wanted` free or expired partitions; returns {partition: new epoch}."""
    if wanted <= 0:
        return {}
    free = (
        select(_leases.c.partition)
        .where(
            _leases.c.partition < config.partitions,
            or_(_leases.c.holder.is_(None), _leases.c.expires_at <= DB_NOW),
        )
        .order_by(_leases.c.partition)
        .limit(wanted)
        .with_for_update(skip_locked=True)
    )
    chosen = list(conn.execute(free).scalars())
    if not chosen:
        return {}
    taken = (
        update(_leases)
        .where(_leases.c.partition.in_(chosen))
        .values(
            holder=config.node,
            epoch=_leases.c.epoch + 1,
            expires_at=DB_NOW + config.lease_micros,
        )
        .returning(_leases.c.partition, _leases.c.epoch)
    )
    return {int(p): int(e) for p, e in conn.execute(taken)}


def next_expiry(conn: Connection, config: LeaseConfig) -> float | None:
    """Seconds until the soonest unexpired lease of another node runs out, or None. A live
    holder renews every third of its lease, so this is short only for a holder that stopped:
    the moment its partitions can be claimed."""
    left = select(func.min(_leases.c.expires_at - DB_NOW)).where(
        _leases.c.holder.is_not(None),
        _leases.c.holder != config.node,
        _leases.c.expires_at > DB_NOW,
    )
    micros = conn.execute(left).scalar_one()
    return None if micros is None else int(micros) / _MICROS


def renew(conn: Connection, config: LeaseConfig, held: Mapping[int, int]) -> set[int]:
    """Extend the leases still held with these epochs and not expired; returns those renewed
    (the others are lost: taken over, or expired before this renewal)."""
    if not held:
        return set()
    stmt = (
        update(_leases)
        .where(*_held_by(config.node, held), _leases.c.expires_at > DB_NOW)
        .values(expires_at=DB_NOW + config.lease_micros)
        .returning(_leases.c.partition)
    )
    return {int(p) for p in conn.execute(stmt).scalars()}


def release(conn: Connection, config: LeaseConfig, held: Mapping[int, int]) -> set[int]:
    """Give partitions up at once (they are free for any node); returns those released."""
    if not held:
        return set()
    stmt = (
        update(_leases)
        .where(*_held_by(config.node, held))
        .values(holder=None, expires_at=DB_NOW)
        .returning(_leases.c.partition)
    )
    return {int(p) for p in conn.execute(stmt).scalars()}


def leave(conn: Connection, config: LeaseConfig) -> set[int]:
    """Clean shutdown: release everything this node holds and forget the node."""
    stmt = (
        update(_leases)
        .where(_leases.c.holder == config.node)
        .values(holder=None, expires_at=DB_NOW)
        .returning(_leases.c.partition)
    )
    released = {int(p) for p in conn.execute(stmt).scalars()}
    conn.execute(delete(_nodes).where(_nodes.c.node == config.node))
    return released


def forget(conn: Connection, node: str, live_within: float) -> str:
    """Remove a node that died for good (ClusterNodeDown fires for it until then): "forgotten",
    "live" (seen within `live_within` seconds: refused, stop it cleanly instead) or "unknown".
    Its leases have expired already; the live nodes have claimed or will claim them."""
    row = _nodes.c.node == node
    seen = conn.execute(select((DB_NOW - _nodes.c.last_seen).label("ago")).where(row)).first()
    if seen is None:
        return "unknown"
    if int(seen[0]) <= int(live_within * _MICROS):
        return "live"
    conn.execute(delete(_nodes).where(row))
    return "forgotten"


def assert_lease(conn: Connection, partition: int, holder: str, epoch: int) -> None:
    """The fence for one partition: see `assert_leases`."""
    assert_leases(conn, holder, {partition: epoch})


def assert_leases(conn: Connection, holder: str, held: Mapping[int, int]) -> None:
    """Raise `LeaseLostError` unless `holder` holds every partition of `held` with that epoch,
    unexpired. Call it first in the transaction it protects: the share lock it takes lasts
    until that transaction ends, so no claim can overtake the commit."""
    if not held:
        return
    check = (
        select(_leases.c.partition)
        .where(*_held_by(holder, held), _leases.c.expires_at > DB_NOW)
        .with_for_update(read=True)
    )
    valid = {int(p) for p in conn.execute(check).scalars()}
    lost = tuple(sorted(p for p in held if p not in valid))
    if lost:
        raise LeaseLostError(lost, holder, tuple(held[p] for p in lost))


def leases(conn: Connection) -> list[LeaseRow]:
    """Every lease row, for status pages and audits."""
    query = select(
        _leases.c.partition,
        _leases.c.holder,
        _leases.c.epoch,
        _leases.c.expires_at,
        (_leases.c.expires_at <= DB_NOW).label("expired"),
    ).order_by(_leases.c.partition)
    return [LeaseRow(**dict(row)) for row in conn.execute(query).mappings()]


def nodes(conn: Connection, config: LeaseConfig) -> list[dict[str, Any]]:
    """Every node row, with whether it is live (seen within one lease time)."""
    alive = (_nodes.c.last_seen > DB_NOW - config.lease_micros).label("live")
    query = select(_nodes, alive).order_by(_nodes.c.node)
    return [dict(row) for row in conn.execute(query).mappings()]


def status(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Nodes with the seconds since they were last seen, partitions with their holder, epoch
    and the seconds their lease has left (negative: expired), both in database time."""
    seen = ((DB_NOW - _nodes.c.last_seen) / float(_MICROS)).label("seen_seconds_ago")
    left = ((_leases.c.expires_at - DB_NOW) / float(_MICROS)).label("expires_in_seconds")
    node_rows = conn.execute(select(_nodes, seen).order_by(_nodes.c.node)).mappings()
    lease_rows = conn.execute(
        select(_leases.c.partition, _leases.c.holder, _leases.c.epoch, left).order_by(
            _leases.c.partition
        )
    ).mappings()
    return {"nodes": [dict(r) for r in node_rows], "partitions": [dict(r) for r in lease_rows]}


def _held_by(holder: str, held: Mapping[int, int]) -> list[Any]:
    pairs = list(held.items())
    return [
        _leases.c.holder == holder,
        tuple_(_leases.c.partition, _leases.c.epoch).in_(pairs),
    ]
