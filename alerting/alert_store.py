"""Alert state in the store: the active alerts (for `vigia alerts` and restarts) and the
acknowledgements operators make from the CLI/API, which the running agent picks up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from alerting import tables
from alerting.database import Database
from alerting.state import AlertState

# the stored document of an alert (pydantic's codec of the dataclass, as outbox.py's)
_CODEC = TypeAdapter(AlertState)

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
    store: Database,
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
    table = tables.alert_state
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
    table = tables.alert_state
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    ins = dialect.insert(table)
    replaced = {name: ins.excluded[name] for name in ("data", "updated_at", "partition")}
    return ins.on_conflict_do_update(index_elements=["alert_id"], set_=replaced)


def load_alerts(store: Database, partitions: Iterable[int] | None = None) -> list[AlertState]:
    """The stored active alerts; only those of `partitions` when given (a cluster node)."""
    table = tables.alert_state
    query = select(table.c.data)
    if partitions is not None:
        query = query.where(table.c.partition.in_(sorted(partitions)))
    with store.transaction() as conn:
        rows = conn.execute(query).all()
    return [_CODEC.validate_python(row.data) for row in rows]


def request_ack(store: Database, alert_id: str, author: str, comment: str, at: datetime) -> int:
    """Record an acknowledgement; the running agent applies it at its next tick."""
    with store.transaction(write=True) as conn:
        values = {"alert_id": alert_id, "author": author, "comment": comment, "created_at": at}
        result = conn.execute(insert(tables.alert_acks).values(values))
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def pending_acks(store: Database) -> list[Ack]:
    table = tables.alert_acks
    query = select(table).where(table.c.applied_at.is_(None)).order_by(table.c.id)
    with store.transaction() as conn:
        rows = conn.execute(query).mappings().all()
    return [Ack(r["id"], r["alert_id"], r["author"], r["comment"], r["created_at"]) for r in rows]


def mark_applied(store: Database, ack_ids: Sequence[int], at: datetime) -> None:
    if not ack_ids:
        return
    table = tables.alert_acks
    with store.transaction(write=True) as conn:
        conn.execute(update(table).where(table.c.id.in_(ack_ids)).values(applied_at=at))


def acks_for(store: Database, alert_id: str | None = None) -> list[Ack]:
    table = tables.alert_acks
    query = select(table).order_by(table.c.id)
    if alert_id is not None:
        query = query.where(table.c.alert_id == alert_id)
    with store.transaction() as conn:
        rows = conn.execute(query).mappings().all()
    return [Ack(r["id"], r["alert_id"], r["author"], r["comment"], r["created_at"]) for r in rows]


def acks_by_alert(store: Database, alert_ids: Sequence[str]) -> dict[str, list[Ack]]:
    """Acknowledgements of these alerts, oldest first, in one query."""
    if not alert_ids:
        return {}
    table = tables.alert_acks
    query = select(table).where(table.c.alert_id.in_(alert_ids)).order_by(table.c.id)
    with store.transaction() as conn:
        rows = conn.execute(query).mappings().all()
    found: dict[str, list[Ack]] = {}
    for r in rows:
        ack = Ack(r["id"], r["alert_id"], r["author"], r["comment"], r["created_at"])
        found.setdefault(ack.alert_id, []).append(ack)
    return found


def service_alert_ids(store: Database, service: str) -> list[str]:
    """Alert ids `<Rule>/<service>[/<check>]` found in the outbox or the acks, sorted."""
    ids: set[str] = set()
    with store.transaction() as conn:
        for table in (tables.outbox, tables.alert_acks):
            # LIKE narrows the scan ("_" in an id is a wildcard there); the split decides
            query = select(table.c.alert_id).where(table.c.alert_id.like(f"%/{service}%"))
            ids.update(conn.execute(query.distinct()).scalars())
    return sorted(i for i in ids if i.split("/")[1:2] == [service])


class AlertReader:
    """`load_alerts`, decoding only the rows that changed since the last read.

    The agent rewrites every alert row each tick, mostly unchanged; decoding a hundred
    documents costs ~70 ms, comparing them ~1 ms. Used by the live board.
    """

    def __init__(self) -> None:
        self._cache: dict[str, tuple[Any, AlertState]] = {}

    def load(self, store: Database) -> list[AlertState]:
        table = tables.alert_state
        with store.transaction() as conn:
            rows = conn.execute(select(table.c.alert_id, table.c.data)).all()
        fresh: dict[str, tuple[Any, AlertState]] = {}
        for alert_id, data in rows:
            known = self._cache.get(alert_id)
            same = known is not None and known[0] == data
            state = known[1] if known and same else _CODEC.validate_python(data)
            fresh[alert_id] = (data, state)
        self._cache = fresh
        return [state for _, state in fresh.values()]


def _document(alert: AlertState) -> dict[str, Any]:
    data: dict[str, Any] = _CODEC.dump_python(alert, mode="json")
    # template values may hold datetimes or other objects: keep their text form
    data["values"] = json.loads(json.dumps(alert.values, default=str))
    return data
