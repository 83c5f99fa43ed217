"""Alert state in the store: the active alerts (for `vigia alerts` and restarts) and the
acknowledgements operators make from the CLI/API, which the running agent picks up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from agent.store import schema
from agent.store.sql import SqlStore
from alerting.evaluator import AlertState

# (owned partitions, the partition of an alert id: None for the agent's own alerts)
Partitions = tuple[set[int], Callable[[str], int | None]]


@dataclass(frozen=True, slots=True)
class Ack:
    id: int
    alert_id: str
    author: str
    comment: str
    created_at: datetime


def save_alerts(
    store: SqlStore,
    alerts: Sequence[AlertState],
    at: datetime,
    partitions: Partitions | None = None,
) -> None:
    """Replace the stored active alerts with these (a handful of rows: cheap to rewrite)."""
    with store.transaction(write=True) as conn:
        write_alerts(conn, alerts, at, partitions)


def write_alerts(
    conn: Connection,
    alerts: Sequence[AlertState],
    at: datetime,
    partitions: Partitions | None = None,
    only: Collection[str] | None = None,
) -> None:
    """`save_alerts` inside the caller's transaction; with `only`, just the rows of those alert
    ids (stored if among `alerts`, deleted if not: resolved).

    On a cluster node, `partitions` is (the partitions it owns, each alert's partition): only
    those partitions' rows are replaced, and alerts of no partition are not stored (each node
    judges its own health afresh)."""
    table = schema.alert_state
    wipe = delete(table)
    if only is not None:
        wanted = set(only)
        alerts = [a for a in alerts if a.alert_id in wanted]
        wipe = wipe.where(table.c.alert_id.in_(sorted(wanted)))
    placed: list[tuple[AlertState, int | None]] = [(a, None) for a in alerts]
    if partitions is not None:
        owned, partition_of = partitions
        placed = [(a, partition_of(a.alert_id)) for a in alerts]
        placed = [(a, p) for a, p in placed if p is not None and p in owned]
        wipe = wipe.where(table.c.partition.in_(sorted(owned)))
    rows = [
        {"alert_id": a.alert_id, "data": _document(a), "updated_at": at, "partition": p}
        for a, p in placed
    ]
    conn.execute(wipe)
    if rows:
        conn.execute(_replacing(conn), rows)


def _replacing(conn: Connection) -> Any:
    """An INSERT that replaces a row of the same alert id. The DELETE above is not enough on
    PostgreSQL: a concurrent writer of the same alert (the flush and the tick of one node, or
    the old and the new owner at a handover) commits its new row after this statement's
    snapshot, so the DELETE misses it and a plain INSERT would fail on the key."""
    table = schema.alert_state
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    ins = dialect.insert(table)
    replaced = {name: ins.excluded[name] for name in ("data", "updated_at", "partition")}
    return ins.on_conflict_do_update(index_elements=["alert_id"], set_=replaced)


def load_alerts(store: SqlStore, partitions: Iterable[int] | None = None) -> list[AlertState]:
    """The stored active alerts; only those of `partitions` when given (a cluster node)."""
    table = schema.alert_state
    query = select(table.c.data)
    if partitions is not None:
        query = query.where(table.c.partition.in_(sorted(partitions)))
    with store.transaction() as conn:
        rows = conn.execute(query).all()
    return [schema.decode_record(AlertState, row.data) for row in rows]


def request_ack(store: SqlStore, alert_id: str, author: str, comment: str, at: datetime) -> int:
    """Record an acknowledgement; the running agent applies it at its next tick."""
    with store.transaction(write=True) as conn:
        values = {"alert_id": alert_id, "author": author, "comment": comment, "created_at": at}
        result = conn.execute(insert(schema.alert_acks).values(values))
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def pending_acks(store: SqlStore) -> list[Ack]:
    table = schema.alert_acks
    query = select(table).where(table.c.applied_at.is_(None)).order_by(table.c.id)
    with store.transaction() as conn:
        rows = conn.execute(query).mappings().all()
    return [Ack(r["id"], r["alert_id"], r["author"], r["comment"], r["created_at"]) for r in rows]


def mark_applied(store: SqlStore, ack_ids: Sequence[int], at: datetime) -> None:
    if not ack_ids:
        return
    table = schema.alert_acks
    with store.transaction(write=True) as conn:
        conn.execute(update(table).where(table.c.id.in_(ack_ids)).values(applied_at=at))


def acks_for(store: SqlStore, alert_id: str | None = None) -> list[Ack]:
    table = schema.alert_acks
    query = select(table).order_by(table.c.id)
    if alert_id is not None:
        query = query.where(table.c.alert_id == alert_id)
    with store.transaction() as conn:
        rows = conn.execute(query).mappings().all()
    return [Ack(r["id"], r["alert_id"], r["author"], r["comment"], r["created_at"]) for r in rows]


def _document(alert: AlertState) -> dict[str, Any]:
    data = schema.encode_record(alert)
    # template values may hold datetimes or other objects: keep their text form
    data["values"] = json.loads(json.dumps(alert.values, default=str))
    return data
