"""Alert state in the store: the active alerts (for `vigia alerts` and restarts) and the
acknowledgements operators make from the CLI/API, which the running agent picks up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from agent.store import schema
from agent.store.sql import SqlStore
from alerting.evaluator import AlertState


@dataclass(frozen=True, slots=True)
class Ack:
    id: int
    alert_id: str
    author: str
    comment: str
    created_at: datetime


def save_alerts(store: SqlStore, alerts: Sequence[AlertState], at: datetime) -> None:
    """Replace the stored active alerts with these (a handful of rows: cheap to rewrite)."""
    rows = [{"alert_id": a.alert_id, "data": _document(a), "updated_at": at} for a in alerts]
    with store.transaction(write=True) as conn:
        conn.execute(delete(schema.alert_state))
        if rows:
            conn.execute(insert(schema.alert_state), rows)


def load_alerts(store: SqlStore) -> list[AlertState]:
    with store.transaction() as conn:
        rows = conn.execute(select(schema.alert_state.c.data)).all()
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
